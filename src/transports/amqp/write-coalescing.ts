import type { ChannelModel } from "amqplib";

/**
 * The frames one event-loop turn writes go to the socket in one `writev`, not one write each.
 *
 * amqplib 2.x (lib/mux.js `Mux._readIncoming`) moves every frame a channel queued (a
 * `basic.ack`, a publish's method + header + body) to the socket with its own
 * `socket.write`, i.e. one system call per frame: with a worker acking and a publisher
 * publishing thousands of messages a second, the socket writes were the largest busy item of
 * a CPU profile. Corking the socket at the first write of a turn and uncorking it on the next
 * tick (Node's documented `writable.cork()` pattern) hands the kernel the turn's frames at
 * once. The bytes and their order are unchanged, nothing waits past the current turn, and
 * back-pressure is kept: a corked write still returns false past the high-water mark, and the
 * mux waits for `drain` as before.
 */

const COALESCED = Symbol("celeriac.writeCoalescing");

interface CorkableSocket {
  write(...args: unknown[]): boolean;
  cork(): void;
  uncork(): void;
  writableCorked?: number;
  destroyed?: boolean;
  [COALESCED]?: true;
}

/** Installs the coalescing on the socket under `model` (idempotent; a no-op if amqplib changed shape). */
export function coalesceSocketWrites(model: ChannelModel): void {
  const socket = (model as unknown as { connection?: { stream?: CorkableSocket } }).connection?.stream;
  if (
    socket === undefined ||
    typeof socket.write !== "function" ||
    typeof socket.cork !== "function" ||
    typeof socket.uncork !== "function" ||
    socket[COALESCED]
  ) {
    return;
  }
  socket[COALESCED] = true;
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function coalescedWrite(this: CorkableSocket, ...args: unknown[]): boolean {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  };
}
