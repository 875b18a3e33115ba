/**
 * Worker, task and signature options are checked as strictly as `new Celery(options)` (issue 11
 * item 8): an unknown key is an error naming the closest valid one, a bad value names the option.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { signature } from "../../../src/canvas/builders.js";
import { ConfigError } from "../../../src/errors.js";
import { defineTaskBase } from "../../../src/worker/task-registry.js";

const app = new Celery({ broker: "redis://127.0.0.1:1/0" });
afterAll(() => app.close());

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("no ConfigError thrown");
}

describe("worker options", () => {
  it("app.worker({ concurency: 4, queue: 'ts' }) names concurrency and queues", () => {
    const err = configError(() => app.worker({ concurency: 4, queue: "ts" } as never));
    expect(err.option).toBe("concurency");
    expect(err.message).toContain('"concurency" (did you mean "concurrency"?)');
    expect(err.message).toContain('"queue" (did you mean "queues"?)');
  });

  it.each([
    [{ concurrency: 0 }, "concurrency"],
    [{ concurrency: 2.5 }, "concurrency"],
    [{ queues: [] }, "queues"],
    [{ queues: "ts" }, "queues"],
    [{ prefetchMultiplier: -1 }, "prefetchMultiplier"],
    [{ pool: "prefork" }, "pool"],
    [{ handleSignals: "no" }, "handleSignals"],
    [{ hostname: "" }, "hostname"],
  ])("%j is refused naming %s", (options, option) => {
    expect(configError(() => app.worker(options as never)).option).toBe(option);
  });
});

describe("task options", () => {
  it("a typo names the closest option", () => {
    const err = configError(() => app.task("t.typo", () => 1, { acksLte: true } as never));
    expect(err.option).toBe("acksLte");
    expect(err.message).toContain('did you mean "acksLate"?');
  });

  it.each([
    [{ acksLate: "yes" }, "acksLate"],
    [{ serializer: "pickle" }, "serializer"],
    [{ retryKwargs: { countdwn: 1 } }, "countdwn"],
    [{ autoretryFor: "ValueError" }, "autoretryFor"],
  ])("%j is refused naming %s", (options, option) => {
    expect(configError(() => app.task("t.bad", () => 1, options as never)).option).toBe(option);
  });

  it("a task base is checked too", () => {
    expect(configError(() => defineTaskBase({ maxRetry: 1 } as never)).message).toContain("maxRetries");
  });
});

describe("signature and send options", () => {
  it("Signature.set names the closest option (camelCase or Celery's snake_case accepted)", () => {
    const sig = signature("t.add", [1, 2]);
    expect(() => sig.set({ routing_key: "x", countdown: 1 })).not.toThrow();
    const err = configError(() => sig.set({ routingKy: "x" }));
    expect(err.message).toContain('did you mean "routingKey"?');
  });

  it("sendTask options and app.signature defaults name the closest option", () => {
    expect(configError(() => app.signature("t.add", { queu: "x" } as never)).message).toContain(
      'did you mean "queue"?',
    );
  });

  it("new Celery() names the closest setting", () => {
    const err = configError(() => new Celery({ taskDefaultQueu: "x" } as never));
    expect(err.message).toContain('did you mean "taskDefaultQueue"?');
  });
});

describe("settings Celeriac does not implement are refused, not ignored", () => {
  it.each([
    ["brokerPoolLimit", 5, /one connection per app/],
    ["workerLostWaitSeconds", 30, /WorkerLostError/],
    ["workerCancelLongRunningTasksOnConnectionLoss", true, /keep running/],
    ["eventSerializer", "msgpack", /events are sent as JSON/],
  ])("%s = %j is a ConfigError naming it", (option, value, why) => {
    const err = configError(() => new Celery({ [option]: value }));
    expect(err.option).toBe(option);
    expect(err.message).toMatch(why);
  });

  it("their defaults (what Celeriac does) are accepted", () => {
    expect(
      () =>
        new Celery({
          brokerPoolLimit: 10,
          workerLostWaitSeconds: 10,
          workerCancelLongRunningTasksOnConnectionLoss: false,
          eventSerializer: "json",
        }),
    ).not.toThrow();
  });
});
