/**
 * The pieces of the worker's request lifecycle that need no broker (issue 11 items 1, 2, 7):
 * saferepr never throws, the settle point settles once, results and exception args become what
 * Celery stores, an unkillable async handler is reported as still running, and an ETA beyond
 * setTimeout's 2^31 ms ceiling does not fire early.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LATEST_COMPAT } from "../../../src/compat.js";
import { createLogger } from "../../../src/logging.js";
import { saferepr } from "../../../src/protocol/saferepr.js";
import { serialize } from "../../../src/serialization/index.js";
import type { Delivery } from "../../../src/transports/transport.js";
import { kombuResultEncoder } from "../../../src/worker/body-codec.js";
import { PythonError, Terminated } from "../../../src/worker/errors.js";
import { EtaTimer, MAX_TIMER_DELAY_MS } from "../../../src/worker/eta-timer.js";
import { excInfoOf } from "../../../src/worker/exc-info.js";
import { runWithLimits } from "../../../src/worker/executor.js";
import { resultEncodeError, serializableExcInfo, storedValue } from "../../../src/worker/result-value.js";
import { RunControl } from "../../../src/worker/run-control.js";
import { Settlement, settleOnce } from "../../../src/worker/settlement.js";

const json = kombuResultEncoder("json", LATEST_COMPAT);
const msgpack = kombuResultEncoder("msgpack", LATEST_COMPAT);

function silentLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: "error", destination: { write: (line: string) => lines.push(line) } });
  return Object.assign(logger, { errors: lines });
}

describe("saferepr never throws", () => {
  it("shows BigInt as a Python int and a cycle as a recursion marker", () => {
    expect(saferepr(2n ** 70n)).toBe("1180591620717411303424");
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expect(saferepr(loop, { maxlevels: 0 })).toBe("{'a': 1, 'self': <Recursion on dict with id=0>}");
  });

  it("survives throwing getters, toJSON, toPythonRepr, null prototypes and Proxies", () => {
    const getter = Object.defineProperty({}, "boom", {
      enumerable: true,
      get() {
        throw new Error("getter");
      },
    });
    const toJSON = {
      toJSON() {
        throw new Error("toJSON");
      },
    };
    const hook = {
      toPythonRepr() {
        throw new Error("hook");
      },
    };
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("trap");
        },
      },
    );
    expect(saferepr(getter)).toBe("<Unrepresentable Object: Error: getter>");
    expect(saferepr(toJSON)).toBe("<Unrepresentable Object: Error: toJSON>");
    expect(saferepr(hook)).toBe("<Unrepresentable Object: Error: hook>");
    expect(saferepr([1, proxy])).toBe("[1, <Unrepresentable Object: Error: trap>]");
    expect(saferepr(Object.create(null))).toBe("{}");
    expect(saferepr(Symbol("s"))).toBe("Symbol(s)");
  });

  it("returns a string for any generated value", () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }),
        (v) => {
          expect(typeof saferepr(v, { maxlen: 1024 })).toBe("string");
        },
      ),
    );
  });
});

describe("the settle point", () => {
  it("acks, rejects or requeues exactly once, whatever is asked later", async () => {
    const calls: string[] = [];
    const delivery = {
      ack: async () => void calls.push("ack"),
      reject: async (requeue: boolean) => void calls.push(requeue ? "requeue" : "reject"),
      deliveryInfo: { deliveryTag: "t1" },
    } as unknown as Delivery;
    const settlement = new Settlement(delivery, silentLogger());
    await Promise.all([settlement.settle("reject"), settlement.settle("ack"), settlement.settle("requeue")]);
    expect(calls).toEqual(["reject"]);
    expect(settlement.settled).toBe("reject");
  });

  it("settleOnce: the worker's view of a delivery settles on the first ack/reject only", async () => {
    const calls: string[] = [];
    const raw = {
      body: new Uint8Array(),
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: {},
      properties: {},
      deliveryInfo: { deliveryTag: "t3" },
      ack: async () => void calls.push("ack"),
      reject: async (requeue: boolean) => void calls.push(requeue ? "requeue" : "reject"),
    } as unknown as Delivery;
    const held = settleOnce(raw);
    await held.ack();
    await held.reject(false);
    await held.reject(true);
    expect(calls).toEqual(["ack"]);
    expect(held.deliveryInfo).toBe(raw.deliveryInfo);
  });

  it("never rejects when the broker refuses the ack; the failure is logged", async () => {
    const delivery = {
      ack: async () => {
        throw new Error("channel closed");
      },
      reject: async () => undefined,
      deliveryInfo: { deliveryTag: "t2" },
    } as unknown as Delivery;
    const logger = silentLogger();
    await expect(new Settlement(delivery, logger).settle("ack")).resolves.toBeUndefined();
    expect(logger.errors.join()).toContain("Could not ack message t2: channel closed");
  });
});

describe("results as Celery stores them", () => {
  it("a handler's undefined is Python's None", () => {
    expect(storedValue(undefined)).toBeNull();
    expect(storedValue(0)).toBe(0);
  });

  it("BigInt encodes as a bare int in JSON and as int64/uint64 in msgpack", () => {
    expect(resultEncodeError(2n ** 70n, json)).toBeNull();
    expect(new TextDecoder().decode(serialize([2n ** 70n], "json").body)).toBe("[1180591620717411303424]");
    expect(resultEncodeError(2n ** 63n + 1n, msgpack)).toBeNull();
    expect(resultEncodeError(2n ** 70n, msgpack)?.excType).toBe("EncodeError");
  });

  it("an unencodable result becomes kombu's EncodeError wrapping the serializer's error", () => {
    const loop: unknown[] = [];
    loop.push(loop);
    const circular = resultEncodeError(loop, json);
    expect(circular).toBeInstanceOf(PythonError);
    expect(excInfoOf(circular)).toMatchObject({ exc_type: "EncodeError", exc_module: "kombu.exceptions" });
    expect(String(circular?.excArgs[0])).toMatch(/^ValueError\('.*Circular reference detected'\)$/);
    expect(String(resultEncodeError({ f: () => 1 }, json)?.excArgs[0])).toMatch(/^TypeError\(/);
    expect(String(resultEncodeError(Symbol("x"), json)?.excArgs[0])).toMatch(/^TypeError\(/);
  });

  it("exception args the serializer refuses are replaced by their repr (ensure_serializable)", () => {
    const loop: Record<string, unknown> = {};
    loop.loop = loop;
    const info = serializableExcInfo(
      excInfoOf(new PythonError("ValueError", ["bad", 2n ** 70n, loop])),
      json,
    );
    expect(info.exc_message[0]).toBe("bad");
    expect(info.exc_message[1]).toBe(2n ** 70n);
    expect(typeof info.exc_message[2]).toBe("string");
    expect(() => serialize(info, "json")).not.toThrow();
  });
});

describe("hard time limit", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an async handler that ignores the signal is reported not killed; settled waits for it", async () => {
    let release!: () => void;
    const handler = new Promise<void>((resolve) => {
      release = resolve;
    });
    const outcome = await runWithLimits(() => handler, {
      soft: null,
      hard: 0.01,
      controller: new AbortController(),
      stop: new RunControl(),
    });
    expect(outcome.kind).toBe("timeout");
    if (outcome.kind !== "timeout") return;
    expect(outcome.killed).toBe(false);
    let settled = false;
    void outcome.settled.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    release();
    await outcome.settled;
    expect(settled).toBe(true);
  });

  it("a killable run (thread pool) is settled at once", async () => {
    const killed: number[] = [];
    const outcome = await runWithLimits(() => new Promise(() => undefined), {
      soft: null,
      hard: 0.01,
      controller: new AbortController(),
      stop: new RunControl(),
      onHardTimeout: (s) => killed.push(s),
    });
    expect(outcome).toMatchObject({ kind: "timeout", killed: true });
    expect(killed).toEqual([0.01]);
  });
});

describe("the run's stop switch (remote terminate, cold shutdown)", () => {
  it("a terminate ends the run at once as terminated and aborts ctx.signal; the switch is let go", async () => {
    const stop = new RunControl();
    const controller = new AbortController();
    const ending = runWithLimits(() => new Promise(() => undefined), {
      soft: null,
      hard: null,
      controller,
      stop,
    });
    stop.abort(new Terminated(15));
    const end = await ending;
    expect(end).toMatchObject({ kind: "terminated", reason: { signum: 15 } });
    expect(controller.signal.reason).toBeInstanceOf(Terminated);
    // Nothing listens any more: a second run can take the switch's one listener.
    expect(() => stop.abort(new Error("again"))).not.toThrow();
  });

  it("a handler that settles on the terminate itself still counts as terminated", async () => {
    const stop = new RunControl();
    const controller = new AbortController();
    const ending = runWithLimits(
      () =>
        new Promise((_resolve, reject) => {
          controller.signal.addEventListener("abort", () => reject(controller.signal.reason));
        }),
      { soft: null, hard: null, controller, stop },
    );
    stop.abort(new Terminated(9));
    expect((await ending).kind).toBe("terminated");
  });

  it("a cold-shutdown abort reaches ctx.signal and the handler's own end is the outcome", async () => {
    const stop = new RunControl();
    const controller = new AbortController();
    const ending = runWithLimits(
      () =>
        new Promise((resolve) => {
          controller.signal.addEventListener("abort", () => resolve("stopped cleanly"));
        }),
      { soft: null, hard: null, controller, stop },
    );
    stop.abort(new Error("cold shutdown"));
    expect(await ending).toEqual({ kind: "ok", value: "stopped cleanly" });
  });

  it("a switch already thrown with a terminate ends the run as terminated", async () => {
    const stop = new RunControl();
    stop.abort(new Terminated(15));
    const end = await runWithLimits(() => 1, {
      soft: null,
      hard: null,
      controller: new AbortController(),
      stop,
    });
    expect(end.kind).toBe("terminated");
  });
});

describe("ETA timer", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an ETA 30 days out does not run early (setTimeout's 2^31 ms ceiling is re-armed)", () => {
    vi.useFakeTimers({ now: 0 });
    const day = 86_400_000;
    let fired = 0;
    const timer = new EtaTimer(30 * day, () => fired++);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(30 * day - MAX_TIMER_DELAY_MS - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    timer.cancel();
  });

  it("cancel stops it", () => {
    vi.useFakeTimers({ now: 0 });
    let fired = 0;
    const timer = new EtaTimer(1000, () => fired++);
    timer.cancel();
    vi.advanceTimersByTime(2000);
    expect(fired).toBe(0);
  });
});
