/**
 * The publisher's templated envelope writer against the plain one: for any task a user can
 * send (random args/kwargs/options, unicode, bigint, nested, huge), the text must be
 * byte-for-byte `JSON.stringify(buildEnvelope(message))`, across many messages through one
 * encoder so templates are built, reused and rebuilt.
 */
import fc from "fast-check";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import type { PublishOptions } from "../../../src/canvas/options.js";
import { type BodyEncoding, buildEnvelope } from "../../../src/transports/redis/envelope.js";
import { EnvelopeEncoder } from "../../../src/transports/redis/envelope-encoder.js";
import { RedisKeys } from "../../../src/transports/redis/keys.js";
import { RedisPublisher } from "../../../src/transports/redis/publisher.js";
import { parseRedisUrl } from "../../../src/transports/redis/url.js";
import type { OutgoingMessage } from "../../../src/transports/transport.js";
import { tree } from "../serialization/arbitraries.js";

const app = new Celery({ broker: "redis://127.0.0.1:1/0" });

/** The plain writer's text, or the error it throws. */
function plain(message: OutgoingMessage, bodyEncoding: BodyEncoding, tag: string): string | Error {
  try {
    return JSON.stringify(buildEnvelope(message, { bodyEncoding, deliveryTag: tag }));
  } catch (err) {
    return err as Error;
  }
}

function templated(encoder: EnvelopeEncoder, message: OutgoingMessage, tag: string): string | Error {
  try {
    return encoder.encode(message, tag).value;
  } catch (err) {
    return err as Error;
  }
}

function expectSame(a: string | Error, b: string | Error): void {
  if (a instanceof Error || b instanceof Error) {
    expect(a).toBeInstanceOf(Error);
    expect(b).toBeInstanceOf(Error);
    expect((a as Error).constructor).toBe((b as Error).constructor);
    expect((a as Error).message).toBe((b as Error).message);
  } else {
    expect(a).toBe(b);
  }
}

const anyText = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }));
const leaf = fc.oneof(
  anyText,
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const value = tree(leaf, anyText);
/** A custom header: mostly what users send, sometimes what JSON.stringify refuses (a bigint). */
const headerValue = fc.oneof(
  anyText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer(), anyText, fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(anyText, fc.oneof(fc.integer(), anyText), { maxKeys: 3 }),
  value,
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
);

const send = fc.record({
  name: fc.oneof(
    fc.constantFrom("t.add", "t.mul", "ü.task"),
    anyText.filter((s) => s !== ""),
  ),
  args: fc.array(value, { maxLength: 4 }),
  kwargs: fc.dictionary(anyText, value, { maxKeys: 4 }),
  options: fc.record(
    {
      queue: fc.constantFrom("celery", "q-1", "ünï"),
      priority: fc.integer({ min: 0, max: 255 }),
      countdown: fc.integer({ min: 1, max: 10_000 }),
      expires: fc.integer({ min: 1, max: 10_000 }),
      timeLimit: fc.integer({ min: 1, max: 100 }),
      shadow: anyText,
      taskId: anyText.filter((s) => s !== ""),
      argsrepr: anyText,
      kwargsrepr: anyText,
      replyTo: anyText,
      retries: fc.nat(5),
      headers: fc.dictionary(fc.constantFrom("x-a", "x-b", "counter", "ü"), headerValue, { maxKeys: 3 }),
      extraProperties: fc.dictionary(
        fc.constantFrom("app_id", "user_id", "priority", "delivery_tag"),
        fc.oneof(anyText, fc.integer(), fc.constant(undefined)),
        { maxKeys: 2 },
      ),
    },
    { requiredKeys: [] },
  ),
  tag: fc.oneof(fc.uuid(), anyText),
});

describe("EnvelopeEncoder", () => {
  it("writes exactly JSON.stringify(buildEnvelope(...)) for any sequence of sends", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<BodyEncoding>("base64", "utf-8"),
        fc.array(send, { minLength: 1, maxLength: 12 }),
        (bodyEncoding, sends) => {
          const encoder = new EnvelopeEncoder(bodyEncoding);
          for (const s of sends) {
            const { message } = app.prepareTask(s.name, s.args, s.kwargs, s.options as PublishOptions);
            expectSame(templated(encoder, message, s.tag), plain(message, bodyEncoding, s.tag));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is exact for huge args, and when a custom header changes on every message", () => {
    const encoder = new EnvelopeEncoder();
    const huge = "ü\u{1F600}\ud800x".repeat(20_000);
    for (let i = 0; i < 6; i++) {
      const { message } = app.prepareTask(
        "t.big",
        [huge, i, BigInt(i) ** 30n],
        { nested: { a: [huge] } },
        {
          headers: { counter: i, fixed: "same", list: [i, "x"] },
        },
      );
      expect(encoder.encode(message, `tag-${i}`).value).toBe(plain(message, "base64", `tag-${i}`));
    }
  });

  it("reports the priority list of kombu's _get_message_priority", () => {
    const encoder = new EnvelopeEncoder();
    for (const [priority, level] of [
      [0, 0],
      [3, 3],
      [200, 9],
    ] as const) {
      const { message } = app.prepareTask("t.p", [], {}, { priority });
      expect(encoder.encode(message).priority).toBe(level);
    }
  });
});

describe("RedisPublisher.publish of a message no writer can encode", () => {
  it("rejects (no synchronous throw) with JSON.stringify's error, on every exchange type", async () => {
    const client = new Redis({ lazyConnect: true });
    const publisher = new RedisPublisher({
      client,
      keys: new RedisKeys(0),
      endpoint: parseRedisUrl("broker", "redis://127.0.0.1:1/0"),
      permanentBindings: true,
      retryPolicy: null,
      exchangeTypes: new Map([["fan", "fanout"]]),
    });
    for (const exchange of ["", "fan", "direct-named"]) {
      const { message } = app.prepareTask("t.big", [], {}, { headers: { big: 1n } });
      let published: Promise<void> | undefined;
      expect(() => {
        published = publisher.publish({ ...message, exchange });
      }).not.toThrow();
      await expect(published).rejects.toThrow(TypeError);
    }
    client.disconnect();
  });
});
