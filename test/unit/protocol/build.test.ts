import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import { ProtocolError } from "../../../src/errors.js";
import { buildTaskMessage, buildTaskMessageV1, taskSentEventFields } from "../../../src/protocol/build.js";

const ID = "94a75db6-58a0-4a39-b328-5bb7fb2afa15";
const REPLY_TO = "295049f8-d077-34a1-8724-a1e932cdaec3";
const NOW = new Date("2024-01-02T03:04:05.678Z");
const base = { id: ID, origin: "gen15108@vm", replyTo: REPLY_TO, now: NOW };

describe("buildTaskMessage", () => {
  it("reproduces the captured 5.6.3 priority-3 message, key order included", () => {
    const m = buildTaskMessage(
      "tasks.add",
      { ...base, args: [2, 3], kwargs: {}, priority: 3, ignoreResult: false },
      compatProfile("5.6"),
    );
    // Captured from real Redis: headers and properties of `add.apply_async((2, 3), priority=3)`.
    const captured = JSON.parse(`{"lang": "py", "task": "tasks.add", "id": "${ID}", "shadow": null,
      "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null],
      "root_id": "${ID}", "parent_id": null, "argsrepr": "(2, 3)", "kwargsrepr": "{}",
      "origin": "gen15108@vm", "ignore_result": false, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}`);
    expect(m.headers).toEqual(captured);
    expect(Object.keys(m.headers)).toEqual(Object.keys(captured));
    // The envelope adds delivery_info (before priority), body_encoding and delivery_tag; we stop before those.
    expect(m.properties).toEqual({ correlation_id: ID, reply_to: REPLY_TO, delivery_mode: 2, priority: 3 });
    expect(Object.keys(m.properties)).toEqual(["correlation_id", "reply_to", "delivery_mode", "priority"]);
    expect(JSON.stringify(m.body)).toBe(
      '[[2,3],{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]',
    );
  });

  it("writes no 5.3+ headers for 5.2, and ignore_result null on 5.7 send_task without the option", () => {
    const m52 = buildTaskMessage("tasks.add", { ...base, args: [1] }, compatProfile("5.2"));
    expect(Object.keys(m52.headers).slice(-2)).toEqual(["origin", "ignore_result"]);
    expect(m52.headers.ignore_result).toBe(false);
    expect(buildTaskMessage("tasks.add", base, compatProfile("5.7")).headers.ignore_result).toBeNull();
    expect(buildTaskMessage("tasks.add", base, compatProfile("5.6")).headers.ignore_result).toBe(false);
  });

  it("turns countdown into an aware eta with 6 fraction digits, and countdown wins over eta", () => {
    const m = buildTaskMessage(
      "t",
      { ...base, countdown: 10, eta: new Date("2030-01-01T00:00:00Z") },
      compatProfile("5.7"),
    );
    expect(m.headers.eta).toBe("2024-01-02T03:04:15.678000+00:00");
    const noMillis = buildTaskMessage(
      "t",
      { ...base, now: new Date("2024-01-02T03:04:05Z"), countdown: 1.5 },
      compatProfile(),
    );
    expect(noMillis.headers.eta).toBe("2024-01-02T03:04:06.500000+00:00");
    expect(buildTaskMessage("t", { ...base, countdown: 0 }, compatProfile()).headers.eta).toBeNull();
  });

  it("formats an eta Date, and sends an eta string unchanged", () => {
    expect(
      buildTaskMessage("t", { ...base, eta: new Date("2025-06-01T12:00:00Z") }, compatProfile()).headers.eta,
    ).toBe("2025-06-01T12:00:00.000000+00:00");
    expect(buildTaskMessage("t", { ...base, eta: "2025-06-01T12:00:00Z" }, compatProfile()).headers.eta).toBe(
      "2025-06-01T12:00:00Z",
    );
  });

  it("sets expires and the AMQP expiration property like Celery.send_task, clamped at 0", () => {
    const m = buildTaskMessage("t", { ...base, expires: 60 }, compatProfile());
    expect(m.headers.expires).toBe("2024-01-02T03:05:05.678000+00:00");
    expect(m.properties.expiration).toBe("60000");
    expect(Object.keys(m.properties)).toEqual([
      "correlation_id",
      "reply_to",
      "delivery_mode",
      "expiration",
      "priority",
    ]);
    const past = buildTaskMessage("t", { ...base, expires: new Date(NOW.getTime() - 5000) }, compatProfile());
    expect(past.properties.expiration).toBe("0");
    expect(past.headers.expires).toBe("2024-01-02T03:04:00.678000+00:00");
    const iso = buildTaskMessage("t", { ...base, expires: "2024-01-02T03:04:06.679+00:00" }, compatProfile());
    expect(iso.headers.expires).toBe("2024-01-02T03:04:06.679+00:00");
    // Python: str(int(timedelta(seconds=1.001).total_seconds() * 1000)) == "1000" (float truncation).
    expect(iso.properties.expiration).toBe("1000");
    expect(buildTaskMessage("t", { ...base, expires: 0.0015 }, compatProfile()).properties.expiration).toBe(
      "1",
    );
    expect(buildTaskMessage("t", base, compatProfile()).properties.expiration).toBeUndefined();
  });

  it("appends custom headers after stamps and lets them override in place (headers2.update)", () => {
    const m = buildTaskMessage(
      "t",
      {
        ...base,
        headers: { "x-custom": "v", retries: 7 },
        stampedHeaders: ["s1"],
        stamps: { s1: "a", other: 1 },
      },
      compatProfile("5.7"),
    );
    const keys = Object.keys(m.headers);
    expect(keys.slice(-4)).toEqual(["replaced_task_nesting", "stamped_headers", "stamps", "x-custom"]);
    expect(keys.indexOf("retries")).toBe(8);
    expect(m.headers.retries).toBe(7);
    expect(m.headers.stamps).toEqual({ s1: "a" });
    expect(m.headers.stamped_headers).toEqual(["s1"]);
  });

  it('merges a decoded "__proto__" custom header as a plain key', () => {
    const m = buildTaskMessage("t", { ...base, headers: JSON.parse('{"__proto__": "x"}') }, compatProfile());
    expect(Object.keys(m.headers).at(-1)).toBe("__proto__");
    expect(Object.getPrototypeOf(m.headers)).toBe(Object.prototype);
  });

  it("writes timelimit hard first, group fields, root_id defaulting to the id, parent and shadow", () => {
    const m = buildTaskMessage(
      "t",
      {
        ...base,
        timeLimit: 30,
        softTimeLimit: 20,
        groupId: "g",
        groupIndex: 2,
        rootId: "",
        parentId: "p",
        shadow: "s",
      },
      compatProfile(),
    );
    expect(m.headers.timelimit).toEqual([30, 20]);
    expect([
      m.headers.group,
      m.headers.group_index,
      m.headers.root_id,
      m.headers.parent_id,
      m.headers.shadow,
    ]).toEqual(["g", 2, ID, "p", "s"]);
    expect(buildTaskMessage("t", { ...base, rootId: "r" }, compatProfile()).headers.root_id).toBe("r");
  });

  it("computes argsrepr/kwargsrepr with saferepr: tuple by default, list on request, () when empty", () => {
    const m = buildTaskMessage(
      "t",
      { ...base, args: ["it's", 1.5, true, null], kwargs: { a: [1, { b: 2 }] } },
      compatProfile(),
    );
    expect(m.headers.argsrepr).toBe("('it\\'s', 1.5, True, None)");
    expect(m.headers.kwargsrepr).toBe("{'a': [1, {'b': 2}]}");
    expect(
      buildTaskMessage("t", { ...base, args: [2, 3], argsReprStyle: "list" }, compatProfile()).headers
        .argsrepr,
    ).toBe("[2, 3]");
    expect(
      buildTaskMessage("t", { ...base, args: [], argsReprStyle: "list" }, compatProfile()).headers.argsrepr,
    ).toBe("()");
    const long = buildTaskMessage("t", { ...base, args: ["x".repeat(2000)] }, compatProfile("5.7")).headers
      .argsrepr;
    const long56 = buildTaskMessage("t", { ...base, args: ["x".repeat(2000)] }, compatProfile("5.6")).headers
      .argsrepr;
    // Captured lengths: 1031 on 5.7.0, 1034 on 5.6.3.
    expect([long.length, long.slice(-6)]).toEqual([1031, "...',)"]);
    expect([long56.length, long56.slice(-9)]).toEqual([1034, "...', ..."]);
  });

  it("generates a uuid4 id and uses it as correlation_id; reply_to defaults to ''", () => {
    const m = buildTaskMessage("t", { origin: "o" }, compatProfile());
    expect(m.headers.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(m.properties.correlation_id).toBe(m.headers.id);
    expect(m.properties.reply_to).toBe("");
  });

  it("puts leftover options into properties after reply_to", () => {
    const m = buildTaskMessage("t", { ...base, extraProperties: { origin: "x" } }, compatProfile());
    expect(Object.keys(m.properties)).toEqual([
      "correlation_id",
      "reply_to",
      "origin",
      "delivery_mode",
      "priority",
    ]);
  });

  it("carries the embed", () => {
    const sig = { task: "cb", args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    const m = buildTaskMessage(
      "t",
      { ...base, callbacks: [sig], errbacks: [sig], chain: [], chord: sig },
      compatProfile(),
    );
    expect(m.body[2]).toEqual({ callbacks: [sig], errbacks: [sig], chain: [], chord: sig });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["args not an array", { args: "2, 3" }, /^args must be an array/],
    ["args an object", { args: { 0: 1 } }, /^args must be an array/],
    ["kwargs an array", { kwargs: [1] }, /^kwargs must be a plain object/],
    ["countdown NaN", { countdown: Number.NaN }, /^countdown must be/],
    ["eta garbage", { eta: "tomorrow" }, /^eta is not an ISO-8601 datetime/],
    ["eta a number", { eta: 5 }, /^eta must be a Date or an ISO-8601 string/],
    ["expires garbage", { expires: {} }, /^expires must be seconds/],
    ["priority too big", { priority: 300 }, /^priority must be <= 255/],
    ["priority fractional", { priority: 1.5 }, /^priority must be an integer/],
    ["negative retries", { retries: -1 }, /^retries must be an integer >= 0/],
    ["timelimit string", { timeLimit: "10" }, /^timeLimit must be a finite number/],
    ["missing stamp", { stampedHeaders: ["s"], stamps: {} }, /^stamps has no value for stamped header "s"/],
    ["callbacks not a list", { callbacks: { task: "x" } }, /^callbacks must be an array/],
    ["chord without task", { chord: { args: [] } }, /^chord must be a signature object/],
    ["headers an array", { headers: [] }, /^headers must be a plain object/],
    ["invalid eta Date", { eta: new Date(Number.NaN) }, /^eta is an invalid Date/],
  ];
  for (const [what, extra, message] of bad) {
    it(`rejects ${what} with a ProtocolError naming the field`, () => {
      const build = () => buildTaskMessage("t", { ...base, ...extra } as never, compatProfile());
      expect(build).toThrow(ProtocolError);
      expect(build).toThrow(message);
    });
  }

  it("rejects an empty task name", () => {
    expect(() => buildTaskMessage("", base, compatProfile())).toThrow(ProtocolError);
  });
});

describe("buildTaskMessageV1", () => {
  it("writes as_task_v1's body keys in Celery's order, with taskset = group", () => {
    const m = buildTaskMessageV1("tasks.add", { ...base, args: [1], groupId: "g", timeLimit: 5 });
    expect(Object.keys(m.body)).toEqual([
      "task",
      "id",
      "args",
      "kwargs",
      "group",
      "group_index",
      "retries",
      "eta",
      "expires",
      "utc",
      "callbacks",
      "errbacks",
      "timelimit",
      "taskset",
      "chord",
    ]);
    expect([m.body.taskset, m.body.timelimit, m.headers]).toEqual(["g", [5, null], {}]);
  });
});

describe("taskSentEventFields", () => {
  it("mirrors as_task_v2's sent_event", () => {
    const m = buildTaskMessage("tasks.add", { ...base, args: [2, 3] }, compatProfile());
    expect(taskSentEventFields(m)).toEqual({
      uuid: ID,
      root_id: ID,
      parent_id: null,
      name: "tasks.add",
      args: "(2, 3)",
      kwargs: "{}",
      retries: 0,
      eta: null,
      expires: null,
    });
  });
});
