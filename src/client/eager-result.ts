import type { ResultMetaRecord } from "../backends/backend.js";
import { AsyncResult, type GetOptions, type ResultMeta, toResultMeta } from "./result.js";

/**
 * The result of a task run in-process (celery/result.py `EagerResult`, 5.7.0): already
 * finished, nothing is read from a backend. `status`, `result` and `traceback` are there
 * synchronously; the `AsyncResult` methods answer from them. `result` is the return value, or
 * the error itself for FAILURE/RETRY/REJECTED/IGNORED, and `get()` throws that error object
 * (not a rebuilt `RemoteTaskError`) for FAILURE and REVOKED, as `EagerResult.get` raises
 * `self.result` for `PROPAGATE_STATES`.
 */
export class EagerResult<T = unknown> extends AsyncResult<T> {
  private statusValue: string;
  private resultValue: unknown;
  private tracebackValue: string | null;

  constructor(id: string, result: unknown, status: string, traceback: string | null = null, name?: string) {
    super(id, null, name);
    this.resultValue = result;
    this.statusValue = status;
    this.tracebackValue = traceback;
  }

  /** The state, known at once (`EagerResult.state`). */
  get status(): string {
    return this.statusValue;
  }

  /** The return value, or the error for an exception state (`EagerResult.result`). */
  get result(): unknown {
    return this.resultValue;
  }

  override get traceback(): string | null {
    return this.tracebackValue;
  }

  override async meta(): Promise<ResultMeta> {
    const raw: ResultMetaRecord = {
      task_id: this.id,
      status: this.statusValue,
      result: this.resultValue,
      traceback: this.tracebackValue,
      children: [],
      date_done: null,
    };
    return toResultMeta(raw);
  }

  /** `EagerResult.get`: the value; FAILURE and REVOKED throw the error unless `propagate: false`. */
  override async get(options: GetOptions = {}): Promise<T> {
    if (this.statusValue === "SUCCESS") return this.resultValue as T;
    if ((this.statusValue === "FAILURE" || this.statusValue === "REVOKED") && options.propagate !== false) {
      throw this.resultValue;
    }
    return this.resultValue as T;
  }

  override async state(): Promise<string> {
    return this.statusValue;
  }

  override async info(): Promise<unknown> {
    return this.resultValue;
  }

  /** Nothing stored, nothing to forget (`EagerResult.forget`). */
  override async forget(): Promise<void> {}

  /** Always true: the task has run (`EagerResult.ready`). */
  override async ready(): Promise<boolean> {
    return true;
  }
}
