import { setTimeout as sleep } from "node:timers/promises";
import { TimeoutError } from "../../errors.js";
import { READY_STATES } from "../../protocol/states.js";
import type { ResultMetaRecord, WaitOptions } from "../backend.js";

/**
 * `AsyncResult.get()` against a database backend: there is nothing to subscribe to, so Celery
 * polls (celery/backends/base.py `SyncBackendMixin.wait_for`: `get_task_meta`, then
 * `time.sleep(interval)`, default `interval=0.5`). One query per interval, never a busy loop.
 */
export const POLL_INTERVAL_MS = 500;

export async function pollUntilReady(
  taskId: string,
  getMeta: (taskId: string) => Promise<ResultMetaRecord>,
  options: WaitOptions = {},
  intervalMs = POLL_INTERVAL_MS,
): Promise<ResultMetaRecord> {
  const deadline = options.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeout;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
    const meta = await getMeta(taskId);
    if (READY_STATES.has(meta.status)) return meta;
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`The operation timed out waiting for the result of task ${taskId}`);
    try {
      await sleep(Math.min(intervalMs, left), undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      throw options.signal?.reason ?? new Error("aborted");
    }
  }
}
