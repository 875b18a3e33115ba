/**
 * Bytes and Python stand-ins inside a signature survive the canvas copy (`clone`, `toDict`) that
 * the worker runs on every callback and chain step it forwards: a decoded `Buffer` must go back on
 * the wire as bytes (kombu json's `bytes`/`base64` markers, msgpack bin), never as a record of
 * digits `{"0": .., "1": ..}`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chain, Signature, signature } from "../../../src/canvas/index.js";
import type { SignatureDict } from "../../../src/protocol/task-message.js";
import {
  jsonDumps,
  jsonLoads,
  msgpackDumps,
  msgpackLoads,
  PyDecimal,
  PyUUID,
} from "../../../src/serialization/index.js";

/** Bytes as a Buffer (what the decoders give) or a plain Uint8Array (what users build). */
const bytesArb = fc
  .uint8Array({ maxLength: 40 })
  .chain((b) => fc.constantFrom<Uint8Array>(Buffer.from(b), new Uint8Array(b)));

/** JSON-ish values with bytes at any depth (keys include `__proto__`, which must survive too). */
const valueArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    bytesArb,
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Bytes compared as bytes, whatever their class (a Buffer and a Uint8Array with equal content match). */
function normal(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(normal);
  if (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof PyDecimal || value instanceof PyUUID)
  ) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(out, k, { value: normal(v), enumerable: true });
    return out;
  }
  return value;
}

function forwarded(dict: SignatureDict): SignatureDict {
  // What the worker does with an embedded callback / chain step before sending it.
  return Signature.fromDict(dict).clone(["parent result"]).toDict();
}

describe("bytes inside a forwarded signature", () => {
  it("clone + toDict keep every Buffer / Uint8Array as bytes, at any depth (property)", () => {
    fc.assert(
      fc.property(
        fc.array(valueArb, { maxLength: 4 }),
        fc.dictionary(fc.string(), valueArb),
        (args, kwargs) => {
          const dict = signature("py.cb", args, kwargs, { headers: { blob: Buffer.from("x") } }).toDict();
          const out = forwarded(dict);
          expect(normal(out.args)).toEqual(normal(["parent result", ...args]));
          expect(normal(out.kwargs)).toEqual(normal(kwargs));
          expect(normal((out.options as Record<string, unknown>).headers)).toEqual({ blob: { bytes: "78" } });
        },
      ),
    );
  });

  it("the forwarded bytes are bytes again after kombu json and msgpack (property)", () => {
    fc.assert(
      fc.property(fc.array(bytesArb, { minLength: 1, maxLength: 3 }), (blobs) => {
        const out = forwarded(signature("py.cb", blobs, { k: blobs[0] }).toDict());
        const viaJson = jsonLoads(jsonDumps(out)) as SignatureDict;
        const viaMsgpack = msgpackLoads(msgpackDumps(out)) as SignatureDict;
        for (const decoded of [viaJson, viaMsgpack]) {
          expect(normal(decoded.args)).toEqual(normal(["parent result", ...blobs]));
          expect(normal(decoded.kwargs)).toEqual(normal({ k: blobs[0] }));
        }
      }),
    );
  });

  it("kombu json writes UTF-8 bytes under the bytes marker and others as base64, not as digits", () => {
    const out = forwarded(signature("py.cb", [Buffer.from("abc"), Buffer.from([0, 255])]).toDict());
    const text = jsonDumps(out.args);
    expect(text).toBe(
      '["parent result", {"__type__": "bytes", "__value__": "abc"}, {"__type__": "base64", "__value__": "AP8="}]',
    );
  });

  it("a copied Buffer is a copy (bytes are immutable in Python, mutable here)", () => {
    const blob = Buffer.from("abc");
    const sig = signature("py.cb", [], { blob });
    const copy = sig.clone();
    blob[0] = 0x7a;
    expect(Buffer.isBuffer(copy.kwargs.blob)).toBe(true);
    expect((copy.kwargs.blob as Buffer).toString()).toBe("abc");
  });

  it("Python stand-ins (Decimal, UUID) stay themselves through a chain's copy", () => {
    const d = new PyDecimal("1.10");
    const u = new PyUUID("12345678123456781234567812345678");
    const c = chain(signature("a", [d]), signature("b", [], { u }));
    const dict = Signature.fromDict(c.toDict()).clone().toDict();
    const tasks = (dict.kwargs as { tasks: SignatureDict[] }).tasks;
    expect(tasks[0]?.args[0]).toBeInstanceOf(PyDecimal);
    expect(tasks[1]?.kwargs?.u).toBeInstanceOf(PyUUID);
  });
});

describe("stamps in a merge", () => {
  it("a stamp's value is immutable in Signature._merge, like group_id and stamped_headers", () => {
    const sig = signature("a").stamp({ priority: "stamped", tenant: "t1" });
    const { options } = sig.merge(
      [],
      {},
      { priority: 9, tenant: "other", queue: "q", stamped_headers: ["x"] },
    );
    expect(options).toMatchObject({ priority: "stamped", tenant: "t1", queue: "q" });
    expect([...(options.stamped_headers as string[])].sort()).toEqual(["priority", "tenant"]);
    // An option that is not a stamp merges as before.
    expect(signature("b").merge([], {}, { priority: 9 }).options.priority).toBe(9);
  });
});
