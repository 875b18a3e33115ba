import { TimeoutError } from "../errors.js";
import { READY_STATES } from "../protocol/states.js";
import type { ResultMetaRecord, WaitOptions } from "./backend.js";

/**
 * The producer-side memory of the RPC backend: the latest state per task id
 * (celery/backends/rpc.py keeps only the most recent message per
 * `correlation_id`, `_out_of_band` / `_cache`) and the waiters for READY
 * states. Replies for ids nobody waits on are kept (bounded, oldest dropped
 * first) because a waiter may come later (`AsyncResult.get()` after the
 * task already finished).
 */
interface Waiter {
  resolve(meta: ResultMetaRecord): void;
  reject(err: Error): void;
}

export class RpcReplyStore {
  private readonly latest = new Map<string, ResultMetaRecord>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(private readonly maxKept = 10_000) {}

  /** Records a reply; resolves the waiters of its id when it is a READY state. */
  record(taskId: string, meta: ResultMetaRecord): void {
    const previous = this.latest.get(taskId);
    // A late non-final reply (STARTED after SUCCESS, from a redelivery) must not hide the result.
    if (previous && READY_STATES.has(previous.status) && !READY_STATES.has(meta.status)) return;
    this.latest.delete(taskId);
    this.latest.set(taskId, meta);
    while (this.latest.size > this.maxKept) {
      const oldest = this.latest.keys().next().value;
      if (oldest === undefined || this.waiters.has(oldest)) break;
      this.latest.delete(oldest);
    }
    if (READY_STATES.has(meta.status)) {
      const waiting = this.waiters.get(taskId);
      this.waiters.delete(taskId);
      for (const w of waiting ?? []) w.resolve(meta);
    }
  }

  get(taskId: string): ResultMetaRecord | undefined {
    return this.latest.get(taskId);
  }

  forget(taskId: string): void {
    this.latest.delete(taskId);
  }

  /** Resolves with the first READY meta for the id (at once if it is already here). */
  wait(taskId: string, options: WaitOptions = {}): Promise<ResultMetaRecord> {
    const known = this.latest.get(taskId);
    if (known && READY_STATES.has(known.status)) return Promise.resolve(known);
    return new Promise<ResultMetaRecord>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        const set = this.waiters.get(taskId);
        set?.delete(waiter);
        if (set?.size === 0) this.waiters.delete(taskId);
      };
      const waiter: Waiter = {
        resolve: (meta) => {
          done();
          resolve(meta);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const onAbort = () => waiter.reject(options.signal?.reason ?? new Error("aborted"));
      if (options.signal?.aborted) {
        reject(options.signal.reason ?? new Error("aborted"));
        return;
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeout !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new TimeoutError(`The operation timed out waiting for task ${taskId}`)),
          options.timeout,
        );
      }
      let set = this.waiters.get(taskId);
      if (!set) {
        set = new Set();
        this.waiters.set(taskId, set);
      }
      set.add(waiter);
    });
  }

  /** Rejects every waiter (backend closing). */
  rejectAll(err: Error): void {
    const all = [...this.waiters.values()].flatMap((s) => [...s]);
    this.waiters.clear();
    for (const w of all) w.reject(err);
  }
}
