/**
 * Free TCP ports and short temp dirs for throwaway servers.
 */
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** rabbitmqctl binds its own Erlang distribution listener in this range (RabbitMQ's default `RABBITMQ_CTL_DIST_PORT_MIN`..`MAX`). */
const RESERVED_PORTS = { min: 35672, max: 35682 };

/**
 * Asks the kernel for a free port by binding port 0 and releasing it. There is a window in which
 * someone else can take it, so callers that spawn a server on it must retry on "address in use".
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const picked = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(picked));
      });
    });
    if (port > 0 && (port < RESERVED_PORTS.min || port > RESERVED_PORTS.max)) return port;
  }
}

/**
 * A fresh directory under the OS temp dir. Names stay short on purpose: a Redis unix socket
 * path must be under 108 bytes.
 */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cx-${prefix}-`));
}
