import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ChannelModel } from "amqplib";

/**
 * A content-header frame amqplib cannot decode must cost one message, not the connection.
 *
 * amqplib 2.x decodes a message's headers table (AMQP 0-9-1 field table) recursively, in
 * `lib/codec.js decodeFields`, while reading frames off the socket (`Connection.recvFrame`). A
 * table nested a few thousand levels deep (RabbitMQ accepts it; it fits in one 128 KiB frame)
 * overflows the stack there: amqplib treats that as a framing error and closes the connection,
 * RabbitMQ requeues the message, and after the reconnect it is delivered first again, forever,
 * while the good messages behind it wait (2 540 reconnects in 50 s were measured). py-amqp's
 * decoder is recursive too, so a Python worker fails the same way.
 *
 * amqplib gives no hook for this (its decoders are captured in module closures), so the guard
 * wraps `recvFrame` on each connection: when decoding a content-header frame throws, the frame
 * is decoded again with its headers table replaced by `{[UNDECODABLE_HEADERS]: reason}`. The
 * channel then receives the message normally (method, header, body frames stay in step) and
 * the consumer rejects it with a logged reason (consumer.ts). Every other frame error is
 * amqplib's, as before.
 */

/** The header a consumer finds instead of a table amqplib could not decode. */
export const UNDECODABLE_HEADERS = "x-celeriac-undecodable-headers";

const FRAME_HEADER = 2;
const GUARDED = Symbol("celeriac.frameGuard");

interface RawFrame {
  type: number;
  channel: number;
  size: number;
  payload: Buffer;
}

interface AmqplibConnection {
  rest: Buffer;
  recvFrame(): unknown;
  [GUARDED]?: true;
}

let decodeFrame: ((frame: RawFrame) => unknown) | null | undefined;

/** amqplib's own frame decoder (lib/frame.js), loaded by path: the package does not export it. */
function amqplibDecodeFrame(): ((frame: RawFrame) => unknown) | null {
  if (decodeFrame !== undefined) return decodeFrame;
  try {
    const require = createRequire(import.meta.url);
    const frameModule = require(join(dirname(require.resolve("amqplib")), "lib", "frame.js")) as {
      decodeFrame?: unknown;
    };
    decodeFrame =
      typeof frameModule.decodeFrame === "function"
        ? (frameModule.decodeFrame as (frame: RawFrame) => unknown)
        : null;
  } catch {
    decodeFrame = null;
  }
  return decodeFrame;
}

/** A field table holding one string entry (AMQP 0-9-1 4.2.5.5: shortstr key, 'S' longstr value). */
function encodeOneEntryTable(key: string, value: string): Buffer {
  const k = Buffer.from(key, "utf8");
  const v = Buffer.from(value, "utf8");
  const table = Buffer.alloc(1 + k.length + 1 + 4 + v.length);
  let at = table.writeUInt8(k.length, 0);
  at += k.copy(table, at);
  at += table.write("S", at, "latin1");
  at = table.writeUInt32BE(v.length, at);
  v.copy(table, at);
  return table;
}

/**
 * The content-header frame at the start of `bytes` with its headers table replaced, or null when
 * `bytes` does not start with a header frame that has a headers table.
 */
export function replaceHeadersTable(bytes: Buffer, reason: string): RawFrame | null {
  if (bytes.length < 7 || bytes[0] !== FRAME_HEADER) return null;
  const channel = bytes.readUInt16BE(1);
  const size = bytes.readUInt32BE(3);
  if (bytes.length < 7 + size) return null;
  const payload = bytes.subarray(7, 7 + size);
  // class id (2), weight (2), body size (8), property flags (2), then the present properties in order
  if (payload.length < 14) return null;
  const flags = payload.readUInt16BE(12);
  let offset = 14;
  for (const bit of [0x8000, 0x4000]) {
    // content-type, content-encoding: shortstr
    if (flags & bit) offset += 1 + (payload[offset] ?? 0);
  }
  if (!(flags & 0x2000) || offset + 4 > payload.length) return null;
  const tableEnd = offset + 4 + payload.readUInt32BE(offset);
  if (tableEnd > payload.length) return null;
  const table = encodeOneEntryTable(UNDECODABLE_HEADERS, reason);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(table.length);
  const replaced = Buffer.concat([payload.subarray(0, offset), length, table, payload.subarray(tableEnd)]);
  return { type: FRAME_HEADER, channel, size: replaced.length, payload: replaced };
}

/** Installs the guard on the connection under `model` (idempotent; a no-op if amqplib changed shape). */
export function guardHeaderFrames(model: ChannelModel): void {
  const connection = (model as unknown as { connection?: AmqplibConnection }).connection;
  const decode = amqplibDecodeFrame();
  if (!connection || decode === null || typeof connection.recvFrame !== "function") return;
  if (connection[GUARDED]) return;
  connection[GUARDED] = true;
  const original = connection.recvFrame;
  connection.recvFrame = function guardedRecvFrame(this: AmqplibConnection): unknown {
    // recvFrame re-enters itself after reading more bytes: the innermost call sees the frame at
    // the start of `rest`, and is the first to catch its decode error.
    const before = this.rest;
    try {
      return original.call(this);
    } catch (err) {
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      const frame = Buffer.isBuffer(before)
        ? replaceHeadersTable(before, `amqplib could not decode the headers table (${why})`)
        : null;
      if (frame === null) throw err;
      return decode(frame);
    }
  };
}
