import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import { LamportClock } from "../../../src/events/clock.js";
import { EventDispatcher, type EventSink } from "../../../src/events/dispatcher.js";
import { type EventBody, utcoffset } from "../../../src/events/event.js";
import { eventJson, pyFloat } from "../../../src/events/json.js";
import { EventProcessor } from "../../../src/events/receiver.js";
import { State } from "../../../src/events/state.js";

function recordingSink(): EventSink & { calls: { rk: string; body: EventBody | EventBody[] }[] } {
  const calls: { rk: string; body: EventBody | EventBody[] }[] = [];
  return {
    calls,
    async publish(rk, body) {
      calls.push({ rk, body });
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("LamportClock (kombu/clocks.py)", () => {
  it("forward increments, adjust takes max + 1", () => {
    const c = new LamportClock();
    expect(c.forward()).toBe(1);
    expect(c.adjust(10)).toBe(11);
    expect(c.adjust(3)).toBe(12);
    expect(c.adjust("junk")).toBe(13);
  });
});

describe("eventJson", () => {
  it("writes PyFloat as a Python float and keeps kombu's separators", () => {
    expect(eventJson({ freq: pyFloat(2), n: 2, l: [pyFloat(0), "x"] })).toBe(
      '{"freq": 2.0, "n": 2, "l": [0.0, "x"]}',
    );
  });
});

describe("utcoffset per compat", () => {
  it("5.7 is a float of hours west of UTC, 5.6 an int", () => {
    const now = new Date();
    const west = now.getTimezoneOffset() / 60;
    expect(eventJson(utcoffset(compatProfile("5.7"), now))).toBe(
      Number.isInteger(west) ? `${west}.0` : String(west),
    );
    expect(utcoffset(compatProfile("5.6"), now)).toBe(Math.floor(west));
  });
});

describe("EventDispatcher", () => {
  it("batches buffered groups into one <group>.multi per tick, worker events singly, clock in order", async () => {
    const sink = recordingSink();
    const d = new EventDispatcher({
      hostname: "w@h",
      sink,
      compat: compatProfile("5.7"),
      bufferGroups: ["task"],
    });
    d.send("task-received", { uuid: "1" });
    d.send("worker-heartbeat", { freq: pyFloat(2) });
    d.send("task-started", { uuid: "1" });
    await tick();
    await d.drain();
    expect(sink.calls.map((c) => c.rk)).toEqual(["worker.heartbeat", "task.multi"]);
    const batch = sink.calls[1]?.body as EventBody[];
    expect(batch.map((e) => [e.type, e.clock])).toEqual([
      ["task-received", 1],
      ["task-started", 3],
    ]);
    expect(Object.keys(batch[0] ?? {})).toEqual([
      "hostname",
      "utcoffset",
      "pid",
      "clock",
      "uuid",
      "timestamp",
      "type",
    ]);
  });

  it("flushes at bufferLimit, honours groups, and drops beyond maxPending (counted)", async () => {
    const sink = recordingSink();
    const d = new EventDispatcher({
      hostname: "w@h",
      sink,
      compat: compatProfile("5.7"),
      bufferGroups: ["task"],
      bufferLimit: 2,
      maxPending: 3,
      groups: ["worker"],
    });
    d.send("task-received", { uuid: "x" });
    expect(d.pendingCount).toBe(0);
    d.groups.add("task");
    for (let i = 0; i < 5; i++) d.send("task-received", { uuid: String(i) });
    expect(d.dropped).toBe(2);
    await d.drain();
    expect(sink.calls.map((c) => (c.body as EventBody[]).length)).toEqual([2, 1]);
    expect(d.sent).toBe(3);
  });

  it("a failing sink counts drops and never throws into the caller", async () => {
    const d = new EventDispatcher({
      hostname: "w@h",
      compat: compatProfile("5.7"),
      sink: {
        publish: () => Promise.reject(new Error("broker down")),
      },
    });
    d.send("worker-heartbeat", {});
    await d.drain();
    expect(d.dropped).toBe(1);
  });
});

describe("EventProcessor + State", () => {
  it("task-sent gets our clock - 1, timestamps localized, list bodies split; State merges out-of-order events", () => {
    const state = new State({ maxTasksInMemory: 2 });
    const seen: string[] = [];
    const p = new EventProcessor({
      handlers: {
        "*": (e) => {
          seen.push(String(e.type));
          state.event(e);
        },
      },
    });
    const base = { hostname: "w@h", utcoffset: 0, pid: 1, timestamp: 1000 };
    p.receive([
      { ...base, type: "task-succeeded", uuid: "a", clock: 5, result: "3", runtime: 0.1 },
      { ...base, type: "task-received", uuid: "a", clock: 3, name: "add", args: "(1, 2)", result: "ignored" },
    ]);
    expect(seen).toEqual(["task-succeeded", "task-received"]);
    const t = state.tasks.get("a");
    expect(t?.state).toBe("SUCCESS");
    expect(t?.name).toBe("add");
    expect(t?.fields.result).toBe("3");
    const before = p.clock.value;
    p.receive({ ...base, type: "task-sent", uuid: "b", clock: 999 });
    expect(state.tasks.get("b")?.clock).toBe(before - 1);
    p.receive({ ...base, type: "task-sent", uuid: "c" });
    expect([...state.tasks.keys()]).toEqual(["b", "c"]);
  });

  it("worker alive within freq x 2 of its last heartbeat, offline clears", () => {
    const state = new State();
    state.event({ type: "worker-heartbeat", hostname: "w@h", freq: 2, timestamp: 100, local_received: 100 });
    const w = state.workers.get("w@h");
    expect(w?.alive(103.9)).toBe(true);
    expect(w?.alive(104.1)).toBe(false);
    state.event({ type: "worker-offline", hostname: "w@h", freq: 2, timestamp: 101, local_received: 101 });
    expect(w?.alive(101)).toBe(false);
  });
});
