/**
 * The time-unit rule on the result API: `get({ timeoutMs })` is milliseconds and says so; the
 * deprecated `get({ timeout })` is still read as milliseconds when `timeoutMs` is absent; a
 * GroupResult's `timeoutMs` bounds the whole wait. The backend here is a recording stand-in:
 * what reaches a real backend is covered by the interop tier.
 */
import { describe, expect, it } from "vitest";
import type { ResultBackend, ResultMetaRecord, WaitOptions } from "../../../src/backends/backend.js";
import { AsyncResult, GroupResult } from "../../../src/client/result.js";
import { TimeoutError } from "../../../src/errors.js";

function recordingBackend(delayMs = 0) {
  const waits: Array<number | undefined> = [];
  const backend = {
    async waitForReady(taskId: string, options: WaitOptions = {}): Promise<ResultMetaRecord> {
      waits.push(options.timeout);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return {
        task_id: taskId,
        status: "SUCCESS",
        result: taskId,
        traceback: null,
        children: [],
        date_done: null,
      } as unknown as ResultMetaRecord;
    },
  } as unknown as ResultBackend;
  return { backend, waits };
}

describe("get() time units", () => {
  it("timeoutMs reaches the backend as milliseconds", async () => {
    const { backend, waits } = recordingBackend();
    expect(await new AsyncResult("a", backend).get({ timeoutMs: 1500 })).toBe("a");
    expect(waits).toEqual([1500]);
  });

  it("the deprecated timeout is read as milliseconds; timeoutMs wins over it", async () => {
    const { backend, waits } = recordingBackend();
    await new AsyncResult("a", backend).get({ timeout: 2500 });
    await new AsyncResult("b", backend).get({ timeout: 2500, timeoutMs: 700 });
    await new AsyncResult("c", backend).get();
    expect(waits).toEqual([2500, 700, undefined]);
  });

  it("GroupResult: timeoutMs bounds the whole wait, each member gets what is left", async () => {
    const { backend, waits } = recordingBackend(30);
    const group = new GroupResult(
      "g",
      [new AsyncResult("a", backend), new AsyncResult("b", backend)],
      backend,
    );
    expect(await group.get({ timeoutMs: 10_000 })).toEqual(["a", "b"]);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThanOrEqual(10_000);
    expect(waits[1]).toBeLessThan(waits[0] as number);
  });

  it("GroupResult: a spent deadline is a TimeoutError naming the member", async () => {
    const { backend } = recordingBackend(30);
    const group = () =>
      new GroupResult("g", [new AsyncResult("a", backend), new AsyncResult("b", backend)], backend);
    await expect(group().get({ timeoutMs: 10 })).rejects.toThrow(TimeoutError);
    await expect(group().get({ timeout: 10 })).rejects.toThrow("group g: timed out waiting for b");
  });
});
