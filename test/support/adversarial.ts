/**
 * Malformed and hostile task messages for the adversarial tier (test/interop/adversarial-*.ts),
 * generated with fast-check from a fixed seed, as steps for python-interop/app/adversarial_producer.py
 * (which sends them, interleaved with good tasks from a real Celery producer, to one queue).
 *
 * Every kind appears at least once; the rest are sampled. A step says what it is (`kind`) so the
 * test can print the kinds it tried.
 */
import { randomUUID } from "node:crypto";
import * as zlib from "node:zlib";
import fc from "fast-check";
import { encodeEnvelope } from "../../src/transports/redis/envelope.js";

export type Step =
  | { kind: "good"; good: unknown[]; big?: boolean }
  | { kind: string; raw: string; expectId?: string; expectArgs?: unknown[] }
  | {
      kind: string;
      body: string;
      contentType: string;
      contentEncoding: string;
      headers: Record<string, unknown>;
      compression?: string;
      deepHeaders?: number;
    }
  | { kind: string; make: "bz2-bomb" | "xz-bomb" | "oversized"; headers: Record<string, unknown> };

/** Celery protocol 2 headers for task `task` (celery/app/amqp.py `as_task_v2`). */
export function taskHeaders(id: string, task = "ts.echo"): Record<string, unknown> {
  return {
    lang: "py",
    task,
    id,
    shadow: null,
    eta: null,
    expires: null,
    group: null,
    group_index: null,
    retries: 0,
    timelimit: [null, null],
    root_id: id,
    parent_id: null,
    argsrepr: "()",
    kwargsrepr: "{}",
    origin: "fuzz@test",
    ignore_result: false,
  };
}

const EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };
const goodBody = (args: unknown[]) => JSON.stringify([args, {}, EMBED]);
const b64 = (data: string | Uint8Array) => Buffer.from(data).toString("base64");
const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

/** A bad body sent with otherwise valid task headers. */
function bodyStep(
  kind: string,
  body: string | Uint8Array,
  contentType = "application/json",
  extra: { compression?: string; headers?: Record<string, unknown>; deepHeaders?: number } = {},
): Step {
  const headers = extra.headers ?? taskHeaders(randomUUID());
  return {
    kind,
    body: b64(body),
    contentType,
    contentEncoding: "utf-8",
    headers,
    ...(extra.compression ? { compression: extra.compression } : {}),
    ...(extra.deepHeaders ? { deepHeaders: extra.deepHeaders } : {}),
  };
}

// Bombs made once: 40 MiB of zeros through zlib, 64 MiB through brotli (Python makes bz2/xz ones).
let zlibBomb: Buffer | undefined;
let brotliBomb: Buffer | undefined;
function bombs(): { zlibBomb: Buffer; brotliBomb: Buffer } {
  zlibBomb ??= zlib.deflateSync(Buffer.alloc(40 << 20));
  brotliBomb ??= zlib.brotliCompressSync(Buffer.alloc(64 << 20), {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 },
  });
  return { zlibBomb, brotliBomb };
}

/** Kinds that are bad in the body or the task headers: the same on both brokers. */
function bodyKinds(): fc.Arbitrary<Step>[] {
  const { zlibBomb: z, brotliBomb: br } = bombs();
  const id = fc.uuid();
  return [
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => bodyStep("garbage-body", b)),
    fc.tuple(fc.jsonValue(), fc.nat()).map(([v, cut]) => {
      const text = goodBody([v]);
      return bodyStep("truncated-json", text.slice(0, cut % text.length));
    }),
    fc.constant(bodyStep("invalid-utf8", Buffer.from([0x5b, 0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d, 0x5d]))),
    fc
      .constantFrom("text/plain", "application/xml", "application/json; charset=utf-8", "")
      .map((t) => bodyStep("wrong-content-type", goodBody([1]), t)),
    fc
      .uint8Array({ minLength: 1, maxLength: 50 })
      .map((b) =>
        bodyStep("pickle", Buffer.concat([Buffer.from([0x80, 0x04]), b]), "application/x-python-serialize"),
      ),
    fc
      .jsonValue()
      .filter((v) => !Array.isArray(v) || v.length !== 3)
      .map((v) => bodyStep("wrong-shape", JSON.stringify(v))),
    fc
      .constantFrom<unknown[]>(
        ["notalist", {}, EMBED],
        [[], "notadict", EMBED],
        [[], {}, "notanembed"],
        [[], {}],
      )
      .map((body) => bodyStep("bad-args", JSON.stringify(body))),
    id.map((i) => {
      const headers = taskHeaders(i);
      delete headers.task;
      return bodyStep("missing-task-header", goodBody([1]), "application/json", { headers });
    }),
    fc.tuple(id, fc.string({ maxLength: 30 })).map(([i, s]) =>
      bodyStep("unknown-task", goodBody([1]), "application/json", {
        headers: taskHeaders(i, `fuzz.unknown\n[2026-01-01 00:00:00,000: INFO/MainProcess] ${s}`),
      }),
    ),
    fc
      .tuple(
        id,
        fc.constantFrom<Record<string, unknown>>(
          { eta: "not a date" },
          { expires: "soon" },
          { retries: "x" },
          { timelimit: "x" },
          { id: 5 },
        ),
      )
      .map(([i, bad]) =>
        bodyStep("bad-header-values", goodBody([1]), "application/json", {
          headers: { ...taskHeaders(i), ...bad },
        }),
      ),
    fc.integer({ min: 600, max: 100_000 }).map((n) => bodyStep("deep-json", `[${nested(n)}, {}, {}]`)),
    fc
      .integer({ min: 600, max: 5_000 })
      .map((n) => bodyStep("deep-yaml", `- ${nested(n)}`, "application/x-yaml")),
    fc
      .integer({ min: 600, max: 100_000 })
      .map((n) =>
        bodyStep(
          "deep-msgpack",
          Buffer.concat([Buffer.from([0x93]), Buffer.alloc(n, 0x91), Buffer.from([0x80, 0x80])]),
          "application/x-msgpack",
        ),
      ),
    fc
      .tuple(
        fc.constantFrom("zlib", "bzip2", "xz", "brotli", "zstd", "snappy", "application/x-nope"),
        fc.uint8Array({ maxLength: 100 }),
      )
      .map(([c, b]) => bodyStep("bad-compression", b, "application/json", { compression: c })),
    fc.constant(bodyStep("zlib-bomb", z, "application/json", { compression: "application/x-gzip" })),
    fc.constant(bodyStep("brotli-bomb", br, "application/json", { compression: "application/x-brotli" })),
    id.map((i) => ({ kind: "bz2-bomb", make: "bz2-bomb" as const, headers: taskHeaders(i) })),
    id.map((i) => ({ kind: "xz-bomb", make: "xz-bomb" as const, headers: taskHeaders(i) })),
  ];
}

/** Envelope-level kinds: only Redis has an envelope. */
function redisEnvelopeKinds(queue: string): fc.Arbitrary<Step>[] {
  const envelopeOf = (id: string, body = goodBody([1]), headers = taskHeaders(id)) =>
    encodeEnvelope({
      body: Buffer.from(body),
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers,
      properties: { correlation_id: id, delivery_mode: 2, priority: 0 },
      exchange: "",
      routingKey: queue,
    });
  return [
    fc
      .string({ minLength: 1, maxLength: 100 })
      .filter((s) => !/^\s*[[{"\d-]/.test(s))
      .map((raw) => ({ kind: "not-json-entry", raw })),
    fc
      .constantFrom("[1, 2]", "42", '"a string"', "null", "[]")
      .map((raw) => ({ kind: "non-object-entry", raw })),
    fc.tuple(fc.uuid(), fc.nat()).map(([i, cut]) => {
      const raw = envelopeOf(i);
      return { kind: "truncated-envelope", raw: raw.slice(0, 1 + (cut % (raw.length - 1))) };
    }),
    fc.uuid().map((i) => {
      const env = JSON.parse(envelopeOf(i)) as Record<string, unknown>;
      env.body = "!!!*** not base64 ***";
      return { kind: "bad-base64", raw: JSON.stringify(env) };
    }),
    fc.integer({ min: 600, max: 100_000 }).map((n) => {
      const raw = envelopeOf(randomUUID());
      return {
        kind: "deep-envelope-headers",
        raw: raw.replace('"headers":{', `"headers":{"deep":${nested(n)},`),
      };
    }),
  ];
}

/**
 * Good messages TS writes the way kombu does, that the old consumer discarded: an envelope with
 * NaN in its headers (kombu's JSON writes NaN) and an int above 2^53. Python reads their results.
 */
function redisQuirkyGood(queue: string): Step[] {
  const id = randomUUID();
  const raw = encodeEnvelope({
    body: Buffer.from(goodBody(["nan-envelope"])),
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers: { ...taskHeaders(id), x_nan: "NAN_HERE", x_big: "BIG_HERE" },
    properties: { correlation_id: id, delivery_mode: 2, priority: 0 },
    exchange: "",
    routingKey: queue,
  })
    .replace('"NAN_HERE"', "NaN")
    .replace('"BIG_HERE"', "123456789012345678901234567890");
  return [{ kind: "kombu-json-envelope (good)", raw, expectId: id, expectArgs: ["nan-envelope"] }];
}

export interface Plan {
  queue: string;
  transport: "redis" | "amqp";
  steps: Step[];
}

/**
 * `bad` generated bad messages (at least one of every kind), interleaved with `good` good tasks
 * (every fifth carries 2**70), from a fixed seed.
 */
export function adversarialPlan(
  transport: "redis" | "amqp",
  queue: string,
  options: { bad: number; good: number; seed: number; deepHeaderLevels?: number[] },
): Plan {
  const kinds = [...bodyKinds(), ...(transport === "redis" ? redisEnvelopeKinds(queue) : [])];
  const once = kinds.map((k) => fc.sample(k, { numRuns: 1, seed: options.seed })[0] as Step);
  const sampled = fc.sample(fc.oneof(...kinds), {
    numRuns: Math.max(0, options.bad - once.length),
    seed: options.seed,
  });
  const bad: Step[] = [...once, ...sampled];
  if (transport === "amqp") {
    for (const levels of options.deepHeaderLevels ?? []) {
      bad.push(
        bodyStep(`deep-headers-${levels}`, goodBody([1]), "application/json", { deepHeaders: levels }),
      );
    }
  }
  // One oversized body (17 MiB, over the 16 MiB default), made by Python.
  bad.push({ kind: "oversized", make: "oversized", headers: taskHeaders(randomUUID()) });
  const goods: Step[] = Array.from({ length: options.good }, (_, i) => ({
    kind: "good",
    good: [i, `good-${i}`],
    ...(i % 5 === 4 ? { big: true } : {}),
  }));
  if (transport === "redis") goods.push(...redisQuirkyGood(queue));
  // Interleave deterministically: spread the good ones evenly through the bad ones.
  const steps: Step[] = [];
  const every = Math.max(1, Math.floor(bad.length / Math.max(1, goods.length)));
  let g = 0;
  bad.forEach((step, i) => {
    steps.push(step);
    if (i % every === every - 1 && g < goods.length) steps.push(goods[g++] as Step);
  });
  while (g < goods.length) steps.push(goods[g++] as Step);
  return { queue, transport, steps };
}

/** `{kind: count}` for the report line. */
export function kindCounts(steps: readonly Step[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
}

/** Log lines that settle a bad message with a reason (Celery's wording where it has one). */
export const REASON_LINE =
  /Can't decode message body|Received invalid task message|Received unregistered task|Received and deleted unknown message|not a usable envelope|rejected message|Refusing to deserialize/;
