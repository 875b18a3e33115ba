/**
 * The message ctx.retry() publishes, against the one Celery's own Task.retry() published in the
 * golden corpus (protocol-fixtures/<minor>/task-message/retry--json.json: a real solo worker,
 * seen on MONITOR), for every pinned minor: headers and properties key for key and in order,
 * body byte for byte. Also the retry() options Celery passes through (expires, time limits,
 * headers) and the countdown-0 rule.
 */
import { describe, expect, it } from "vitest";
import { CELERY_MINORS, type CompatProfile, compatProfile } from "../../../src/compat.js";
import { jsonDumps } from "../../../src/serialization/index.js";
import { buildWorkerRequest } from "../../../src/worker/request.js";
import { buildRetryMessage, type RetryMessageInput } from "../../../src/worker/retry-message.js";
import { loadFixture, normalize, rulesUnder } from "../../support/fixtures.js";

type Json = Record<string, unknown>;
const ID = "aaaaaaaa-aaaa-4aaa-8aaa-00000000012f";
const ORIGIN = "gen4242@corpus";
/** python-interop/capture/fixture_tasks.py THREAD_OID: the reply_to the captured call carried. */
const THREAD_OID = "0f0e0d0c-0b0a-3999-8888-777766665555";

/** The request the captured worker ran: `tasks.retry_once(2, 3)` sent by a producer, first run. */
function capturedRequest(extraHeaders: Json = {}) {
  return buildWorkerRequest(
    {
      lang: "py",
      task: "tasks.retry_once",
      id: ID,
      root_id: ID,
      parent_id: null,
      retries: 0,
      timelimit: [null, null],
      origin: ORIGIN,
      ...extraHeaders,
    },
    { correlation_id: ID, reply_to: THREAD_OID, delivery_mode: 2, priority: 0 },
    [[2, 3], {}, { callbacks: null, errbacks: null, chain: null, chord: null }],
    {
      exchange: "",
      routingKey: "celery",
      priority: 0,
      redelivered: false,
      deliveryTag: "t",
      queue: "celery",
    },
  );
}

const jsonBody = (compat: CompatProfile) => (body: unknown[]) => ({
  body: new TextEncoder().encode(jsonDumps(body, { typeMarkers: compat.jsonTypeMarkers })),
  contentType: "application/json",
  contentEncoding: "utf-8",
});

function retryOf(compat: CompatProfile, overrides: Partial<RetryMessageInput> = {}) {
  return buildRetryMessage({
    request: capturedRequest(),
    options: {},
    when: 3600,
    ignoreResult: false,
    compat,
    encodeBody: jsonBody(compat),
    ...overrides,
  });
}

describe("buildRetryMessage = Celery's Task.retry() message", () => {
  for (const minor of CELERY_MINORS) {
    it(`Celery ${minor}: headers, properties and body as the captured retry`, () => {
      const compat = compatProfile(minor);
      const fixture = loadFixture(minor, "task-message/retry--json.json") as unknown as {
        formats: Record<string, string>;
        output: { message: Json };
      };
      const recorded = fixture.output.message;
      const sent = retryOf(compat);
      const headers = normalize(sent.headers, rulesUnder(fixture.formats, "/message/headers"));
      expect(headers).toEqual(recorded.headers);
      expect(Object.keys(headers)).toEqual(Object.keys(recorded.headers as Json));
      const { priority, ...rest } = sent.properties;
      const properties = normalize(rest, rulesUnder(fixture.formats, "/message/properties"));
      expect(properties).toEqual(recorded.properties);
      expect(Object.keys(properties)).toEqual(Object.keys(recorded.properties as Json));
      expect(priority).toBe(recorded.priority);
      expect(new TextDecoder().decode(sent.body)).toBe((recorded.body as Json).text);
      expect([sent.exchange, sent.routingKey]).toEqual([recorded.exchange, recorded.routing_key]);
    });
  }

  it("keeps the request's origin (an execution option), also as the leftover origin property", () => {
    const sent = retryOf(compatProfile("5.7"));
    expect(sent.headers.origin).toBe(ORIGIN);
    expect(sent.properties.origin).toBe(ORIGIN);
  });

  it("countdown 0 sends no eta (as_task_v2 `if countdown:`); an eta Date is written as given", () => {
    expect(retryOf(compatProfile("5.7"), { when: 0 }).headers.eta).toBeNull();
    const eta = new Date("2030-01-02T03:04:05.678Z");
    expect(retryOf(compatProfile("5.7"), { when: eta }).headers.eta).toBe("2030-01-02T03:04:05.678000+00:00");
  });

  it("inherits the received expires text as is, with kombu's expiration left of it", () => {
    const request = capturedRequest({ expires: "2999-01-01T00:00:00.123456+00:00" });
    const sent = retryOf(compatProfile("5.7"), { request });
    expect(sent.headers.expires).toBe("2999-01-01T00:00:00.123456+00:00");
    expect(Number(sent.properties.expiration)).toBeGreaterThan(0);
  });

  it("retry(expires=, time_limit=, soft_time_limit=, headers=) replace what the request carried", () => {
    const request = capturedRequest({ timelimit: [60, 50], "x-orig": "1" });
    const before = Date.now();
    const sent = retryOf(compatProfile("5.7"), {
      request,
      options: { expires: 600, timeLimit: 30, softTimeLimit: null, headers: { "x-retry": "yes" } },
    });
    expect(sent.headers.timelimit).toEqual([30, null]);
    expect(sent.headers["x-retry"]).toBe("yes");
    expect(sent.headers).not.toHaveProperty("x-orig");
    const expires = Date.parse(sent.headers.expires as string);
    expect(expires - before).toBeGreaterThanOrEqual(599_000);
    expect(Number(sent.properties.expiration)).toBeLessThanOrEqual(600_000);
    const inherited = retryOf(compatProfile("5.7"), { request });
    expect(inherited.headers.timelimit).toEqual([60, 50]);
    expect(inherited.headers["x-orig"]).toBe("1");
  });
});
