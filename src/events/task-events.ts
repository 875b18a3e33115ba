import { pyFloat } from "./json.js";

/** The request fields task events carry (a subset of the worker's normalized request). */
export interface TaskEventSource {
  id: string;
  name: string;
  argsrepr: string;
  kwargsrepr: string;
  rootId: string | null;
  parentId: string | null;
  retries: number;
  /** The `eta` / `expires` as the message carried them (ISO text), or null. */
  headers: Record<string, unknown>;
}

const isoOrNull = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/**
 * Fields of each task event as Celery's worker sends them
 * (celery/worker/strategy.py `task-received`; celery/worker/request.py
 * `on_accepted`, `on_success`, `on_failure`, `on_retry`, `reject`,
 * `_announce_revoked`). `uuid` comes first, as `Request.send_event` passes it.
 */
export const taskEventFields = {
  received(r: TaskEventSource): Record<string, unknown> {
    return {
      uuid: r.id,
      name: r.name,
      args: r.argsrepr,
      kwargs: r.kwargsrepr,
      root_id: r.rootId,
      parent_id: r.parentId,
      retries: r.retries,
      eta: isoOrNull(r.headers.eta),
      expires: isoOrNull(r.headers.expires),
    };
  },
  started(r: Pick<TaskEventSource, "id">): Record<string, unknown> {
    return { uuid: r.id };
  },
  /** `result` is the repr string of the return value; `runtime` float seconds. */
  succeeded(r: Pick<TaskEventSource, "id">, resultRepr: string, runtime: number): Record<string, unknown> {
    return { uuid: r.id, result: resultRepr, runtime: pyFloat(runtime) };
  },
  failed(r: Pick<TaskEventSource, "id">, exceptionRepr: string, traceback: string): Record<string, unknown> {
    return { uuid: r.id, exception: exceptionRepr, traceback };
  },
  retried(r: Pick<TaskEventSource, "id">, exceptionRepr: string, traceback: string): Record<string, unknown> {
    return { uuid: r.id, exception: exceptionRepr, traceback };
  },
  rejected(r: Pick<TaskEventSource, "id">, requeue: boolean): Record<string, unknown> {
    return { uuid: r.id, requeue };
  },
  revoked(
    r: Pick<TaskEventSource, "id">,
    how: { terminated: boolean; signum: number | null; expired: boolean },
  ): Record<string, unknown> {
    return { uuid: r.id, terminated: how.terminated, signum: how.signum, expired: how.expired };
  },
};
