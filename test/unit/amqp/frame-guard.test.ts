/**
 * The frame guard's rewrite of a content-header frame (src/transports/amqp/frame-guard.ts),
 * read back by amqplib's own frame decoder: the headers table is replaced, every other
 * property and the body size are kept, so the channel stays in step with the body frames.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { replaceHeadersTable, UNDECODABLE_HEADERS } from "../../../src/transports/amqp/frame-guard.js";

const require = createRequire(import.meta.url);
const { decodeFrame } = require(join(dirname(require.resolve("amqplib")), "lib", "frame.js")) as {
  decodeFrame(frame: unknown): { channel: number; size: number; fields: Record<string, unknown> };
};

function shortstr(s: string): Buffer {
  return Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
}

/** A basic content-header frame: content-type, content-encoding, headers {k: "v"}, delivery-mode 2. */
function headerFrame(channel: number, bodySize: number): Buffer {
  const table = Buffer.concat([shortstr("k"), Buffer.from("S"), Buffer.from([0, 0, 0, 1]), Buffer.from("v")]);
  const tableLength = Buffer.alloc(4);
  tableLength.writeUInt32BE(table.length);
  const head = Buffer.alloc(14);
  head.writeUInt16BE(60, 0); // class basic
  head.writeBigUInt64BE(BigInt(bodySize), 4);
  head.writeUInt16BE(0x8000 | 0x4000 | 0x2000 | 0x1000, 12);
  const payload = Buffer.concat([
    head,
    shortstr("application/json"),
    shortstr("utf-8"),
    tableLength,
    table,
    Buffer.from([2]),
  ]);
  const frame = Buffer.alloc(7);
  frame.writeUInt8(2, 0);
  frame.writeUInt16BE(channel, 1);
  frame.writeUInt32BE(payload.length, 3);
  return Buffer.concat([frame, payload, Buffer.from([0xce])]);
}

describe("frame guard", () => {
  it("replaces only the headers table; amqplib decodes the result", () => {
    const original = headerFrame(3, 1234);
    const parsed = decodeFrame({
      type: 2,
      channel: 3,
      size: original.length - 8,
      payload: original.subarray(7, -1),
    });
    expect(parsed.fields.headers).toEqual({ k: "v" });
    const replaced = replaceHeadersTable(Buffer.concat([original, Buffer.from("next frame")]), "too deep");
    expect(replaced).not.toBeNull();
    const decoded = decodeFrame(replaced);
    expect(decoded.channel).toBe(3);
    expect(decoded.size).toBe(1234);
    expect(decoded.fields).toMatchObject({
      contentType: "application/json",
      contentEncoding: "utf-8",
      deliveryMode: 2,
      headers: { [UNDECODABLE_HEADERS]: "too deep" },
    });
  });

  it("leaves anything but a complete header frame with headers alone", () => {
    const original = headerFrame(1, 5);
    expect(replaceHeadersTable(original.subarray(0, 20), "x")).toBeNull();
    expect(replaceHeadersTable(Buffer.concat([Buffer.from([1]), original.subarray(1)]), "x")).toBeNull();
  });
});
