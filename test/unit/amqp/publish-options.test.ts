import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeaderTables } from "../../../src/transports/amqp/header-tables.js";
import { amqpPublishOptions } from "../../../src/transports/amqp/message.js";
import type { OutgoingMessage } from "../../../src/transports/transport.js";

/**
 * amqpPublishOptions hands a plain headers table to amqplib as it is and copies only tables
 * amqplib would misread. The bytes amqplib writes (its own encodeTable) must be those of the
 * copy it got before (`previousSafeHeaderValue`, kept here as the reference) for any headers.
 */
// amqplib's own table encoder (not in its package exports: loaded by file path).
const require = createRequire(import.meta.url);
const amqplibDir = dirname(require.resolve("amqplib"));
const { encodeTable } = require(join(amqplibDir, "lib", "codec.js")) as {
  encodeTable(buffer: Buffer, value: unknown, offset: number): number;
};

function previousSafeHeaderValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(previousSafeHeaderValue);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value);
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = previousSafeHeaderValue(v);
  if (Object.hasOwn(out, "!")) return { "!": "object", value: out };
  return out;
}

function encoded(table: unknown): string {
  const buffer = Buffer.alloc(1 << 16);
  try {
    return buffer.subarray(0, encodeTable(buffer, table, 0)).toString("hex");
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

function message(headers: Record<string, unknown>): OutgoingMessage {
  return {
    body: Buffer.from("[]"),
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers,
    properties: { correlation_id: "id", delivery_mode: 2, priority: 0 },
    exchange: "",
    routingKey: "q",
  };
}

class Custom {
  own = 1;
}

const leaf = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }),
  fc.uint8Array({ maxLength: 4 }),
  fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b)),
  fc.constant(new Custom()),
  fc.constant(Object.create({ inherited: "x" }, { own: { value: 1, enumerable: true } })),
  fc.constant(JSON.parse('{"__proto__": {"a": 1}}')),
);

const { table } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, leaf, tie("table"), fc.array(tie("value"), { maxLength: 3 })),
  table: fc.oneof(
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant("!")), tie("value"), { maxKeys: 4 }),
    fc
      .dictionary(fc.string({ maxLength: 6 }), tie("value"), { maxKeys: 3 })
      .map((d) => Object.assign(Object.create(null), d)),
  ),
}));

describe("amqpPublishOptions headers", () => {
  it("amqplib writes the same table bytes as it did for the copied headers", () => {
    fc.assert(
      fc.property(table, (headers) => {
        const options = amqpPublishOptions(message(headers as Record<string, unknown>));
        expect(encoded(options.headers)).toBe(encoded(previousSafeHeaderValue(headers)));
      }),
      { numRuns: 2000 },
    );
  });

  it("passes Celery's usual headers without a copy and copies a table amqplib would misread", () => {
    const celery = { lang: "py", task: "t", id: "1", timelimit: [null, null], stamps: {}, retries: 0 };
    expect(amqpPublishOptions(message(celery)).headers).toBe(celery);
    const typed = { x: { "!": "timestamp", value: 1 } };
    expect(amqpPublishOptions(message(typed)).headers).toEqual({ x: { "!": "object", value: typed.x } });
  });

  it("a reused table per shape: amqplib writes each message's own bytes, whatever came before", () => {
    // As amqplib's Args.publish sees it: Object.create(options.headers), walked with for...in.
    const asAmqplibSees = (headers: unknown) => encoded(Object.create(headers as object));
    const celeryLike = fc.record(
      {
        task: fc.constantFrom("t.add", "t.mul"),
        id: fc.string({ maxLength: 8 }),
        lang: fc.constant("py"),
        extra: table,
        counter: fc.oneof(fc.integer(), fc.constant(undefined), fc.string({ maxLength: 3 })),
        "7": fc.boolean(),
      },
      { requiredKeys: ["task", "id"] },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(celeryLike, table), { minLength: 1, maxLength: 12 }), (sequence) => {
        const tables = new HeaderTables();
        for (const headers of sequence) {
          const expected = asAmqplibSees(previousSafeHeaderValue(headers));
          const options = amqpPublishOptions(message(headers as Record<string, unknown>), tables);
          expect(asAmqplibSees(options.headers)).toBe(expected);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("hands every message of one task the same object, filled with that message's values", () => {
    const tables = new HeaderTables();
    const first = amqpPublishOptions(message({ task: "t", id: "1", argsrepr: "(1,)" }), tables).headers;
    const second = amqpPublishOptions(message({ task: "t", id: "2", argsrepr: "(2,)" }), tables).headers;
    expect(second).toBe(first);
    expect(second).toEqual({ task: "t", id: "2", argsrepr: "(2,)" });
    // A message of the same task with other keys gets a table of its own shape, no stale key.
    const fewer = amqpPublishOptions(message({ task: "t", id: "3" }), tables).headers;
    expect(Object.keys(fewer as object)).toEqual(["task", "id"]);
  });
});
