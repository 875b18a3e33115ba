import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import { ProtocolError } from "../../../src/errors.js";
import {
  asyncResultTuple,
  buildGroupMeta,
  buildResultMeta,
  groupResultTuple,
  parseGroupMeta,
  parseResultMeta,
  parseResultTuple,
  parseStartedResult,
  resultNodeToTuple,
  startedResult,
} from "../../../src/protocol/result-meta.js";
import { EXCEPTION_STATES, PROPAGATE_STATES, READY_STATES } from "../../../src/protocol/states.js";

const NOW = new Date("2026-11-24T10:25:46.144Z");
const request = {
  task: "tasks.add",
  args: [2, 3],
  kwargs: {},
  hostname: "w1@h",
  retries: 0,
  routingKey: "celery",
  group: "g1",
  parentId: "p1",
  stampedHeaders: ["s1"],
  stamps: { s1: "a", s2: "b" },
};

/**
 * Metas printed by the real `Backend._get_result_meta` (+ `task_id`) of each
 * pinned venv for the same request (result_extended=True), captured once with
 * a small script; only date_done differed run to run and is replaced here.
 */
const PY = {
  "5.2": `{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "<D>", "group_id": "g1", "parent_id": "p1", "name": "tasks.add", "args": [2, 3], "kwargs": {}, "worker": "w1@h", "retries": 0, "queue": "celery", "task_id": "t1"}`,
  "5.3": `{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "<D>", "group_id": "g1", "parent_id": "p1", "name": "tasks.add", "args": [2, 3], "kwargs": {}, "worker": "w1@h", "retries": 0, "queue": "celery", "stamped_headers": ["s1"], "s1": "a", "s2": "b", "task_id": "t1"}`,
  "5.6": `{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "<D>", "group_id": "g1", "parent_id": "p1", "name": "tasks.add", "args": [2, 3], "kwargs": {}, "worker": "w1@h", "retries": 0, "queue": "celery", "stamped_headers": ["s1"], "s1": "a", "s2": "b", "task_id": "t1"}`,
  "5.7": `{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "<D>", "group_id": "g1", "parent_id": "p1", "name": "tasks.add", "args": [2, 3], "kwargs": {}, "worker": "w1@h", "retries": 0, "queue": "celery", "stamped_headers": ["s1"], "s1": "a", "task_id": "t1"}`,
} as const;

describe("buildResultMeta", () => {
  for (const [minor, text] of Object.entries(PY)) {
    it(`matches Celery ${minor}'s extended SUCCESS meta, key order included`, () => {
      const compat = compatProfile(minor);
      const meta = buildResultMeta(
        { taskId: "t1", status: "SUCCESS", result: 5, request, extended: true, now: NOW },
        compat,
      );
      const dateDone = compat.dateDoneAware
        ? "2026-11-24T10:25:46.144000+00:00"
        : "2026-11-24T10:25:46.144000";
      const expected = JSON.parse(text.replace("<D>", dateDone));
      expect(meta).toEqual(expected);
      expect(Object.keys(meta)).toEqual(Object.keys(expected));
    });
  }

  it("omits the fraction of date_done when it is zero, like datetime.isoformat()", () => {
    const at = new Date("2026-11-24T10:25:46Z");
    const aware = buildResultMeta(
      { taskId: "t", status: "FAILURE", result: null, now: at },
      compatProfile("5.4"),
    );
    const naive = buildResultMeta(
      { taskId: "t", status: "REVOKED", result: null, now: at },
      compatProfile("5.3"),
    );
    expect([aware.date_done, naive.date_done]).toEqual(["2026-11-24T10:25:46+00:00", "2026-11-24T10:25:46"]);
  });

  it("writes a RETRY meta outside a request like Python: children null, date_done null, no extended fields", () => {
    const meta = buildResultMeta(
      { taskId: "t1", status: "RETRY", result: null, traceback: "tb", extended: true, now: NOW },
      compatProfile("5.7"),
    );
    // Python (every minor): {"status": "RETRY", "result": null, "traceback": "tb", "children": null, "date_done": null} + task_id
    expect(JSON.stringify(meta)).toBe(
      '{"status":"RETRY","result":null,"traceback":"tb","children":null,"date_done":null,"task_id":"t1"}',
    );
  });

  it("carries children result tuples and leaves out group_id/parent_id when unset", () => {
    const child = asyncResultTuple("c1");
    const meta = buildResultMeta(
      { taskId: "t", status: "SUCCESS", result: 1, request: { task: "x" }, children: [child], now: NOW },
      compatProfile(),
    );
    expect(Object.keys(meta)).toEqual(["status", "result", "traceback", "children", "date_done", "task_id"]);
    expect(meta.children).toEqual([[["c1", null], null]]);
  });

  it("rejects a missing task id or status", () => {
    expect(() => buildResultMeta({ taskId: "", status: "SUCCESS", result: 1 }, compatProfile())).toThrow(
      ProtocolError,
    );
    expect(() => buildResultMeta({ taskId: "t", status: "", result: 1 }, compatProfile())).toThrow(
      ProtocolError,
    );
  });
});

describe("parseResultMeta", () => {
  it("round-trips a built meta", () => {
    const built = buildResultMeta(
      {
        taskId: "t1",
        status: "SUCCESS",
        result: 5,
        request,
        extended: true,
        now: NOW,
        children: [asyncResultTuple("c")],
      },
      compatProfile("5.7"),
    );
    const meta = parseResultMeta(JSON.parse(JSON.stringify(built)));
    expect(meta).toEqual({
      taskId: "t1",
      status: "SUCCESS",
      result: 5,
      exception: null,
      traceback: null,
      children: [{ id: "c", parent: null, children: null }],
      dateDone: NOW,
      groupId: "g1",
      parentId: "p1",
      name: "tasks.add",
      args: [2, 3],
      kwargs: {},
      worker: "w1@h",
      retries: 0,
      queue: "celery",
      extra: { stamped_headers: ["s1"], s1: "a" },
    });
  });

  it("reads the captured FAILURE and REVOKED exception triples and a naive 5.2 date", () => {
    const failure = parseResultMeta({
      status: "FAILURE",
      result: { exc_type: "ValueError", exc_message: ["bad value", 7], exc_module: "builtins" },
      traceback: "Traceback (most recent call last):\n",
      children: [],
      date_done: "2026-11-23T23:34:53.663430",
      task_id: "t",
    });
    expect(failure.exception).toEqual({
      exc_type: "ValueError",
      exc_message: ["bad value", 7],
      exc_module: "builtins",
    });
    expect(failure.dateDone?.toISOString()).toBe("2026-11-23T23:34:53.663Z");
    const revoked = parseResultMeta({
      task_id: "t",
      status: "REVOKED",
      result: { exc_type: "TaskRevokedError", exc_message: "revoked", exc_module: "celery.exceptions" },
      traceback: null,
      children: null,
    });
    expect(revoked.exception?.exc_message).toEqual(["revoked"]);
    expect(revoked.dateDone).toBeNull();
  });

  it("reads the 5.6 RPC reply (task_id first, no date_done)", () => {
    const meta = parseResultMeta({
      task_id: "t9",
      status: "SUCCESS",
      result: { a: 1 },
      traceback: null,
      children: [],
    });
    expect([meta.taskId, meta.result, meta.dateDone]).toEqual(["t9", { a: 1 }, null]);
  });

  const bad: [string, unknown][] = [
    ["not an object", [1]],
    ["no status", { result: 1 }],
    ["a numeric status", { status: 1 }],
    ["children not a list", { status: "SUCCESS", children: {} }],
    ["a malformed child tuple", { status: "SUCCESS", children: [["c1"]] }],
    ["a bad date_done", { status: "SUCCESS", date_done: "yesterday" }],
    ["a numeric traceback", { status: "FAILURE", traceback: 1 }],
    ["a numeric task_id", { status: "SUCCESS", task_id: 5 }],
    ["fractional retries", { status: "SUCCESS", retries: 1.5 }],
  ];
  for (const [what, raw] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => parseResultMeta(raw)).toThrow(ProtocolError);
    });
  }
});

describe("STARTED result", () => {
  it("builds and recognizes {pid, hostname}", () => {
    expect(startedResult({ pid: 123, hostname: "w@h" })).toEqual({ pid: 123, hostname: "w@h" });
    expect(parseStartedResult({ pid: 123, hostname: "w@h" })).toEqual({ pid: 123, hostname: "w@h" });
    expect(parseStartedResult({ progress: 5 })).toBeNull();
  });
});

describe("group meta and result tuples", () => {
  it("builds the captured celery-taskset-meta value", () => {
    expect(JSON.stringify(buildGroupMeta("gid", ["tid1", "tid2"]))).toBe(
      JSON.stringify({
        result: [
          ["gid", null],
          [
            [["tid1", null], null],
            [["tid2", null], null],
          ],
        ],
      }),
    );
  });

  it("parses it back", () => {
    const meta = parseGroupMeta({
      result: [
        ["gid", null],
        [
          [["tid1", null], null],
          [["tid2", null], null],
        ],
      ],
    });
    expect(meta).toEqual({
      groupId: "gid",
      parent: null,
      children: [
        { id: "tid1", parent: null, children: null },
        { id: "tid2", parent: null, children: null },
      ],
    });
  });

  it("handles nested groups, parents and bare ids (result_from_tuple)", () => {
    const nested = groupResultTuple("g", ["a", groupResultTuple("g2", ["b"])], asyncResultTuple("p"));
    const node = parseResultTuple(nested);
    expect(resultNodeToTuple(node)).toEqual(nested);
    expect(parseResultTuple(["bare", null])).toEqual({ id: "bare", parent: null, children: null });
  });

  it("rejects malformed group metas", () => {
    expect(() => parseGroupMeta({ result: [["gid", null], null] })).toThrow(/GroupResult tuple/);
    expect(() => parseGroupMeta({})).toThrow(ProtocolError);
    expect(() => parseResultTuple([[1, null], null])).toThrow(ProtocolError);
  });
});

describe("state sets (celery/states.py)", () => {
  it("match Celery", () => {
    expect([...READY_STATES].sort()).toEqual(["FAILURE", "REVOKED", "SUCCESS"]);
    expect([...EXCEPTION_STATES].sort()).toEqual(["FAILURE", "RETRY", "REVOKED"]);
    expect([...PROPAGATE_STATES].sort()).toEqual(["FAILURE", "REVOKED"]);
  });
});
