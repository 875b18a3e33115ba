import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CELERY_MINORS, compatProfile } from "../../../src/compat.js";
import { ProtocolError } from "../../../src/errors.js";
import { type BuildTaskInput, buildTaskMessage, buildTaskMessageV1 } from "../../../src/protocol/build.js";
import { parseTaskMessage, type TaskRequest } from "../../../src/protocol/parse.js";
import type { TaskMessage } from "../../../src/protocol/task-message.js";

const ID = "94a75db6-58a0-4a39-b328-5bb7fb2afa15";

/** A priority-3 task message captured from Celery 5.6.3, as the Redis transport decodes it. */
function captured(): {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  payload: unknown;
} {
  return JSON.parse(`{
    "headers": {"lang": "py", "task": "tasks.add", "id": "${ID}", "shadow": null,
      "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null],
      "root_id": "${ID}", "parent_id": null, "argsrepr": "(2, 3)", "kwargsrepr": "{}",
      "origin": "gen15108@vm", "ignore_result": false, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}},
    "properties": {"correlation_id": "${ID}", "reply_to": "295049f8-d077-34a1-8724-a1e932cdaec3",
      "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 3,
      "body_encoding": "base64", "delivery_tag": "39abd73e-278e-43ff-a517-31541c7391d8"},
    "payload": [[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]}`);
}

describe("parseTaskMessage: v2", () => {
  it("normalizes the captured 5.6.3 message", () => {
    const req = parseTaskMessage({ ...captured(), deliveryInfo: { exchange: "", routingKey: "celery" } });
    expect(req).toEqual({
      protocol: "v2",
      id: ID,
      name: "tasks.add",
      shadow: null,
      args: [2, 3],
      kwargs: {},
      callbacks: null,
      errbacks: null,
      chain: null,
      chord: null,
      eta: null,
      expires: null,
      retries: 0,
      timeLimit: [null, null],
      rootId: ID,
      parentId: null,
      group: null,
      groupIndex: null,
      ignoreResult: false,
      argsrepr: "(2, 3)",
      kwargsrepr: "{}",
      origin: "gen15108@vm",
      replyTo: "295049f8-d077-34a1-8724-a1e932cdaec3",
      correlationId: ID,
      priority: 3,
      deliveryInfo: { exchange: "", routingKey: "celery", priority: 3, redelivered: false },
      headers: {},
      utc: true,
      replacedTaskNesting: 0,
      stampedHeaders: null,
      stamps: {},
    } satisfies TaskRequest);
  });

  it("accepts the minimal message (headers {task, id}, embed null) with Celery's defaults", () => {
    const req = parseTaskMessage({ headers: { task: "t", id: "i" }, payload: [[], {}, null] });
    expect([req.rootId, req.argsrepr, req.retries, req.timeLimit, req.ignoreResult, req.chain]).toEqual([
      null,
      "",
      0,
      [null, null],
      null,
      null,
    ]);
  });

  it("keeps only non-Celery headers in request.headers (Context._get_custom_headers)", () => {
    const m = captured();
    m.headers["x-custom"] = "v";
    m.headers.redelivered = true;
    m.headers.compression = "application/x-gzip";
    expect(parseTaskMessage(m).headers).toEqual({ "x-custom": "v", redelivered: true });
  });

  it('keeps a decoded "__proto__" header as data, never as a prototype', () => {
    const m = captured();
    const headers = { ...m.headers, ...JSON.parse('{"__proto__": {"polluted": 1}}') };
    const req = parseTaskMessage({ ...m, headers });
    expect(Object.keys(req.headers)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(req.headers)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("uses shadow as the display name only when set", () => {
    const m = captured();
    m.headers.shadow = "";
    expect(parseTaskMessage(m).shadow).toBeNull();
    m.headers.shadow = "nice-name";
    expect(parseTaskMessage(m).shadow).toBe("nice-name");
  });

  const etas: [unknown, string | null][] = [
    ["2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z"],
    ["2020-01-01T00:00:00", "2020-01-01T00:00:00.000Z"],
    ["2024-01-02T03:04:05.678901+00:00", "2024-01-02T03:04:05.678Z"],
    ["2024-01-02T03:04:05.1234567+05:30", "2024-01-01T21:34:05.123Z"],
    ["2024-01-02T03:04:05-0800", "2024-01-02T11:04:05.000Z"],
    ["2024-01-02T03-02", "2024-01-02T05:00:00.000Z"],
    ["20240102T030405,5Z", "2024-01-02T03:04:05.500Z"],
    ["2024-01-02 03:04", "2024-01-02T03:04:00.000Z"],
    ["2024-01-02T24:00:00", "2024-01-03T00:00:00.000Z"],
    ["2024-01-02", "2024-01-02T00:00:00.000Z"],
    ["2024-W01-1", "2024-01-01T00:00:00.000Z"],
    ["2024-060", "2024-02-29T00:00:00.000Z"],
    ["", null],
    [new Date("2024-05-05T05:05:05.005Z"), "2024-05-05T05:05:05.005Z"],
    [{ toDate: () => new Date("2024-05-05T00:00:00Z") }, "2024-05-05T00:00:00.000Z"],
  ];
  for (const [eta, iso] of etas) {
    it(`parses eta ${typeof eta === "string" ? JSON.stringify(eta) : "object"} as isoparse does (naive = UTC)`, () => {
      const m = captured();
      m.headers.eta = eta;
      m.headers.expires = eta;
      const req = parseTaskMessage(m);
      expect(req.eta?.toISOString() ?? null).toBe(iso);
      expect(req.expires?.toISOString() ?? null).toBe(iso);
    });
  }
});

describe("parseTaskMessage: hybrid and v1", () => {
  it("hybrid: v2 headers + dict body with args; message headers win over body fields", () => {
    const req = parseTaskMessage({
      headers: { task: "tasks.add", id: "h-id", "x-h": 1 },
      payload: {
        args: [2, 3],
        kwargs: { k: 1 },
        id: "body-id",
        retries: 2,
        eta: "2030-01-01T00:00:00Z",
        utc: false,
      },
    });
    expect([req.protocol, req.id, req.name, req.args, req.kwargs, req.retries, req.utc, req.headers]).toEqual(
      ["hybrid", "h-id", "tasks.add", [2, 3], { k: 1 }, 2, false, { "x-h": 1 }],
    );
    expect(req.eta?.toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(req.argsrepr).toBe("[2, 3]");
    expect(req.chain).toBeNull();
  });

  it("v1: an as_task_v1 body without headers, taskset -> group, callbacks kept, chain null", () => {
    const sig = { task: "cb", args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    const m = buildTaskMessageV1("tasks.add", {
      id: "v1-id",
      origin: "o",
      args: [1],
      kwargs: { a: 2 },
      groupId: "g",
      countdown: 5,
      now: new Date("2024-01-01T00:00:00Z"),
      callbacks: [sig],
      timeLimit: 9,
    });
    const req = parseTaskMessage({ headers: m.headers, properties: m.properties, payload: m.body });
    expect([
      req.protocol,
      req.id,
      req.name,
      req.group,
      req.callbacks,
      req.chain,
      req.timeLimit,
      req.utc,
    ]).toEqual(["v1", "v1-id", "tasks.add", "g", [sig], null, [9, null], true]);
    expect(req.eta?.toISOString()).toBe("2024-01-01T00:00:05.000Z");
    expect([req.argsrepr, req.kwargsrepr]).toEqual(["[1]", "{'a': 2}"]);
  });

  it("v1 without args (proto1_to_proto2): args [] and kwargs {}", () => {
    const req = parseTaskMessage({ headers: {}, payload: { task: "t", id: "i", taskset: "ts" } });
    expect([req.protocol, req.args, req.kwargs, req.group, req.argsrepr]).toEqual(["v1", [], {}, "ts", "[]"]);
  });

  it("treats null headers as empty (kombu: headers or {})", () => {
    expect(parseTaskMessage({ headers: null, payload: { task: "t", id: "i", args: [] } }).protocol).toBe(
      "v1",
    );
  });
});

describe("parseTaskMessage rejects malformed messages with a ProtocolError naming the problem", () => {
  const v2 = (headers: Record<string, unknown>, payload: unknown = [[], {}, null]) => ({
    headers: { task: "t", id: "i", ...headers },
    payload,
  });
  const cases: [string, unknown, RegExp][] = [
    ["a 2-element body", v2({}, [[2, 3], {}]), /3-element array \[args, kwargs, embed\]/],
    ["a dict v2 body without args", v2({}, { kwargs: {} }), /3-element array/],
    ["a string body", v2({}, "[[], {}, null]"), /3-element array/],
    ["args not a list", v2({}, ["2, 3", {}, null]), /body args must be a list/],
    ["kwargs a list", v2({}, [[], [], null]), /body kwargs must be a mapping/],
    ["embed a list", v2({}, [[], {}, []]), /body embed must be an object or null/],
    [
      "callbacks not a list",
      v2({}, [[], {}, { callbacks: { task: "x" } }]),
      /body embed.callbacks must be a list/,
    ],
    [
      "a chain element without task",
      v2({}, [[], {}, { chain: [{}] }]),
      /body embed.chain\[0\] must be a signature/,
    ],
    ["chord not an object", v2({}, [[], {}, { chord: "x" }]), /body embed.chord must be a signature/],
    ["no id", { headers: { task: "t" }, payload: [[], {}, null] }, /headers.id must be a non-empty string/],
    ["a numeric id", v2({ id: 7 }), /headers.id must be a non-empty string, got 7/],
    ["a non-string task", v2({ task: null }), /headers.task must be a non-empty string/],
    ["neither v2 nor v1", { headers: {}, payload: [[], {}, null] }, /not a task message/],
    ["a bad eta", v2({ eta: "next tuesday" }), /headers.eta is not an ISO-8601 datetime/],
    ["an eta with a bad offset", v2({ eta: "2024-01-01T00:00:00+5" }), /headers.eta is not an ISO-8601/],
    ["an impossible date", v2({ expires: "2023-02-29T00:00:00" }), /headers.expires is not an ISO-8601/],
    ["a numeric eta", v2({ eta: 12 }), /headers.eta must be an ISO-8601 string or a datetime/],
    ["timelimit of one element", v2({ timelimit: [1] }), /headers.timelimit must be \[hard, soft\]/],
    ["timelimit a string", v2({ timelimit: "10" }), /headers.timelimit/],
    ["negative timelimit", v2({ timelimit: [-1, null] }), /headers.timelimit/],
    ["string retries", v2({ retries: "1" }), /headers.retries must be an integer/],
    ["a string ignore_result", v2({ ignore_result: "yes" }), /headers.ignore_result must be a boolean/],
    ["a numeric parent_id", v2({ parent_id: 5 }), /headers.parent_id must be a string or null/],
    ["headers not an object", { headers: [1], payload: [[], {}, null] }, /headers must be an object/],
    [
      "a string priority",
      { ...v2({}), properties: { priority: "high" } },
      /properties.priority must be a number/,
    ],
    ["hybrid kwargs not a mapping", v2({}, { args: [], kwargs: [] }), /body kwargs must be a mapping/],
    [
      "v1 utc not boolean",
      { payload: { task: "t", id: "i", args: [], utc: "no" } },
      /body.utc must be a boolean/,
    ],
    [
      "toDate that throws",
      v2({
        eta: {
          toDate: () => {
            throw new Error("boom");
          },
        },
      }),
      /could not be converted.*boom/,
    ],
  ];
  for (const [what, raw, message] of cases) {
    it(what, () => {
      const parse = () => parseTaskMessage(raw as never);
      expect(parse).toThrow(ProtocolError);
      expect(parse).toThrow(message);
    });
  }

  it("never throws anything but ProtocolError on arbitrary input", () => {
    fc.assert(
      fc.property(
        fc.anything({
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withBigInt: true,
        }),
        fc.oneof(fc.constant(undefined), fc.anything({ withNullPrototype: true })),
        fc.anything({ withDate: true, withNullPrototype: true }),
        fc.boolean(),
        (payload, properties, headerValue, withTask) => {
          const headers: Record<string, unknown> = withTask ? { task: headerValue, id: headerValue } : {};
          try {
            parseTaskMessage({ headers, properties: properties as never, payload });
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
          }
          try {
            parseTaskMessage(payload as never);
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but ProtocolError on near-valid v2 messages", () => {
    const field = fc.oneof(fc.anything(), fc.string(), fc.constant(null), fc.date(), fc.integer());
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            "eta",
            "expires",
            "timelimit",
            "retries",
            "group_index",
            "stamps",
            "stamped_headers",
            "argsrepr",
            "shadow",
            "ignore_result",
          ),
          field,
        ),
        fc.tuple(field, field, field),
        (headers, body) => {
          try {
            parseTaskMessage({ headers: { task: "t", id: "i", ...headers }, payload: body });
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** What the worker would resend for a request: the inverse of parseTaskMessage for build inputs. */
function inputFromRequest(req: TaskRequest, message: TaskMessage): BuildTaskInput {
  return {
    id: req.id,
    args: req.args,
    kwargs: req.kwargs,
    eta: message.headers.eta,
    expires: message.headers.expires,
    priority: req.priority,
    shadow: req.shadow,
    timeLimit: req.timeLimit[0],
    softTimeLimit: req.timeLimit[1],
    groupId: req.group,
    groupIndex: req.groupIndex,
    rootId: req.rootId,
    parentId: req.parentId,
    retries: req.retries,
    argsrepr: req.argsrepr,
    kwargsrepr: req.kwargsrepr,
    origin: req.origin ?? "",
    ignoreResult: req.ignoreResult,
    replacedTaskNesting: req.replacedTaskNesting,
    stampedHeaders: req.stampedHeaders,
    stamps: req.stamps ?? {},
    headers: req.headers,
    callbacks: req.callbacks,
    errbacks: req.errbacks,
    chain: req.chain,
    chord: req.chord,
    replyTo: req.replyTo,
    now: new Date(0),
  };
}

describe("build -> parse -> build round trip", () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const sig = fc.record({
    task: fc.string({ minLength: 1 }),
    args: fc.array(json, { maxLength: 3 }),
    kwargs: fc.dictionary(fc.string(), json, { maxKeys: 3 }),
    options: fc.constant({}),
    subtask_type: fc.constant(null),
    immutable: fc.boolean(),
  });
  const customKey = fc.string({ minLength: 1 }).map((s) => `x-${s}`);
  const input = fc.record(
    {
      id: fc.uuid(),
      args: fc.array(json, { maxLength: 5 }),
      kwargs: fc.dictionary(fc.string(), json, { maxKeys: 5 }),
      countdown: fc.integer({ min: 1, max: 10_000_000 }),
      expires: fc.integer({ min: 0, max: 10_000_000 }),
      priority: fc.integer({ min: 0, max: 9 }),
      shadow: fc.string({ minLength: 1 }),
      timeLimit: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 1000 })),
      softTimeLimit: fc.oneof(fc.constant(null), fc.double({ min: 0, max: 1000, noNaN: true })),
      groupId: fc.uuid(),
      groupIndex: fc.nat(100),
      rootId: fc.uuid(),
      parentId: fc.uuid(),
      retries: fc.nat(10),
      ignoreResult: fc.oneof(fc.boolean(), fc.constant(null)),
      replacedTaskNesting: fc.nat(3),
      headers: fc.dictionary(customKey, json, { maxKeys: 3 }),
      callbacks: fc.array(sig, { maxLength: 2 }),
      errbacks: fc.array(sig, { maxLength: 2 }),
      chain: fc.array(sig, { maxLength: 2 }),
      chord: sig,
      replyTo: fc.uuid(),
    },
    { requiredKeys: ["id"] },
  );
  it("parse(build(x)) rebuilds the identical message for every compat minor", () => {
    fc.assert(
      fc.property(
        input,
        fc.constantFrom(...CELERY_MINORS),
        fc.date({ min: new Date(0), max: new Date(2 ** 40), noInvalidDate: true }),
        (partial, minor, now) => {
          const compat = compatProfile(minor);
          const original = buildTaskMessage("tasks.x", { ...partial, origin: "gen1@host", now }, compat);
          const req = parseTaskMessage({
            headers: original.headers,
            properties: original.properties,
            payload: original.body,
          });
          expect(req.protocol).toBe("v2");
          const rebuilt = buildTaskMessage(req.name, inputFromRequest(req, original), compat);
          // expiration is relative to "now": compare everything else exactly, key order included.
          const { expiration: _a, ...p1 } = original.properties;
          const { expiration: _b, ...p2 } = rebuilt.properties;
          expect(rebuilt.headers).toEqual(original.headers);
          expect(Object.keys(rebuilt.headers)).toEqual(Object.keys(original.headers));
          expect(p2).toEqual(p1);
          expect(rebuilt.body).toEqual(original.body);
          if (original.headers.eta)
            expect(req.eta?.getTime()).toBe(now.getTime() + (partial.countdown ?? 0) * 1000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
