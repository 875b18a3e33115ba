import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../../src/errors.js";
import { BudgetExceededError, DEFAULT_WIRE_BUDGET, jsonLoads } from "../../../src/serialization/index.js";
import {
  buildEnvelope,
  decodeEnvelope,
  decodeUnackedEntry,
  encodeEnvelope,
  encodeRestoredEnvelope,
} from "../../../src/transports/redis/envelope.js";
import type { OutgoingMessage } from "../../../src/transports/transport.js";

const body = Buffer.from('[[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]');

function message(over: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    body,
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers: { lang: "py", task: "tasks.add", id: "t1" },
    properties: { correlation_id: "t1", reply_to: "r", delivery_mode: 2, priority: 3 },
    exchange: "",
    routingKey: "celery",
    ...over,
  };
}

describe("Redis envelope", () => {
  it("has kombu's keys and property order, base64 body and a uuid delivery tag", () => {
    const env = buildEnvelope(message());
    expect(Object.keys(env)).toEqual(["body", "content-encoding", "content-type", "headers", "properties"]);
    const props = env.properties as Record<string, unknown>;
    expect(Object.keys(props)).toEqual([
      "correlation_id",
      "reply_to",
      "delivery_mode",
      "delivery_info",
      "priority",
      "body_encoding",
      "delivery_tag",
    ]);
    expect(props.delivery_info).toEqual({ exchange: "", routing_key: "celery" });
    expect(props.priority).toBe(3);
    expect(props.body_encoding).toBe("base64");
    expect(props.delivery_tag).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(Buffer.from(env.body as string, "base64").equals(body)).toBe(true);
  });

  it("always writes a priority (0 when the producer gave none)", () => {
    const env = buildEnvelope(message({ properties: { correlation_id: "x" } }));
    expect((env.properties as Record<string, unknown>).priority).toBe(0);
  });

  it("gives every message its own delivery tag", () => {
    const tags = new Set(
      Array.from(
        { length: 50 },
        () => (buildEnvelope(message()).properties as { delivery_tag: string }).delivery_tag,
      ),
    );
    expect(tags.size).toBe(50);
  });

  it("decodes the captured Celery 5.6.3 list entry", () => {
    const captured =
      '{"body": "W1syLCAzXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "tasks.add", "id": "94a75db6-58a0-4a39-b328-5bb7fb2afa15"}, "properties": {"correlation_id": "94a75db6-58a0-4a39-b328-5bb7fb2afa15", "reply_to": "295049f8-d077-34a1-8724-a1e932cdaec3", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 3, "body_encoding": "base64", "delivery_tag": "39abd73e-278e-43ff-a517-31541c7391d8"}}';
    const d = decodeEnvelope(captured);
    expect(d.body.toString()).toBe(body.toString());
    expect(d).toMatchObject({
      contentType: "application/json",
      routingKey: "celery",
      exchange: "",
      priority: 3,
      redelivered: false,
      deliveryTag: "39abd73e-278e-43ff-a517-31541c7391d8",
    });
  });

  it("passes a body through unchanged when body_encoding is absent (kombu tolerance)", () => {
    const d = decodeEnvelope('{"body":"[[1],{},null]","properties":{"delivery_tag":"t"}}');
    expect(d.body.toString()).toBe("[[1],{},null]");
  });

  it("rejects envelopes kombu would reject; a missing delivery tag is reported as null", () => {
    expect(() => decodeEnvelope("not json")).toThrow(DecodeError);
    expect(() => decodeEnvelope("[1, 2]")).toThrow(/not a JSON object/);
    expect(decodeEnvelope('{"body":"","properties":{}}').deliveryTag).toBeNull();
  });

  it("parses with kombu's JSON: NaN and Infinity (which kombu writes) and ints above 2^53 are kept", () => {
    const d = decodeEnvelope(
      '{"body": "", "headers": {"a": NaN, "b": -Infinity, "c": 12345678901234567890}, "properties": {"delivery_tag": "t", "priority": 2}}',
    );
    expect(d.headers.a).toBeNaN();
    expect(d.headers.b).toBe(Number.NEGATIVE_INFINITY);
    expect(d.headers.c).toBe(12345678901234567890n);
    expect(d.priority).toBe(2);
  });

  it("reads within the wire-input budget: too large or too deep is a BudgetExceededError", () => {
    const deep = `{"body": "", "headers": {"x": ${"[".repeat(100_000)}${"]".repeat(100_000)}}, "properties": {"delivery_tag": "t"}}`;
    expect(() => decodeEnvelope(deep)).toThrow(BudgetExceededError);
    const small = { ...DEFAULT_WIRE_BUDGET, maxMessageSize: 2048 };
    const big = encodeEnvelope(message({ body: Buffer.alloc(4096, 0x41) }));
    expect(() => decodeEnvelope(big, { budget: small })).toThrow(/message size limit/);
    expect(decodeEnvelope(big).body.length).toBe(4096);
  });

  it("a restore re-encodes with kombu's JSON and marks the message redelivered", () => {
    const entry = decodeUnackedEntry(
      '[{"body": "e30=", "headers": {"n": NaN, "big": 12345678901234567890, "d": {"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}}, "properties": {"delivery_info": {"exchange": "", "routing_key": "q"}, "delivery_tag": "t"}}, "", "q"]',
    );
    expect([entry.exchange, entry.routingKey]).toEqual(["", "q"]);
    const restored = encodeRestoredEnvelope(entry.envelope);
    expect(restored).toContain('"n": NaN');
    expect(restored).toContain('"big": 12345678901234567890');
    expect(restored).toContain('{"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}');
    const again = decodeEnvelope(restored);
    expect(again.redelivered).toBe(true);
    expect(again.headers.redelivered).toBe(true);
    expect(() => decodeUnackedEntry("[not json")).toThrow(DecodeError);
    expect(() => decodeUnackedEntry('{"a": 1}')).toThrow(/\[envelope, exchange, routing_key\]/);
    expect(() => encodeRestoredEnvelope("a string")).toThrow(DecodeError);
  });

  it("round-trips any body bytes, headers and routing", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.string(),
        fc.string(),
        fc.integer({ min: 0, max: 9 }),
        fc.constantFrom("base64" as const, "utf-8" as const),
        (bytes, headers, exchange, routingKey, priority, bodyEncoding) => {
          const msgBody = bodyEncoding === "utf-8" ? Buffer.from(Buffer.from(bytes).toString("utf8")) : bytes;
          const m = message({ body: msgBody, headers, exchange, routingKey, properties: { priority } });
          const d = decodeEnvelope(encodeEnvelope(m, { bodyEncoding }));
          expect(Buffer.from(msgBody).equals(d.body)).toBe(true);
          // What kombu's loads() reads back (an integral number past 2^53 is a Python int: bigint).
          expect(d.headers).toEqual(jsonLoads(JSON.stringify(headers)));
          expect([d.exchange, d.routingKey, d.priority]).toEqual([exchange, routingKey, priority]);
        },
      ),
    );
  });
});
