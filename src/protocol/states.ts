/** Task states, mirroring celery/states.py (5.7.0). Custom states are any other string. */

export const PENDING = "PENDING";
export const RECEIVED = "RECEIVED";
export const STARTED = "STARTED";
export const SUCCESS = "SUCCESS";
export const FAILURE = "FAILURE";
export const REVOKED = "REVOKED";
export const REJECTED = "REJECTED";
export const RETRY = "RETRY";
export const IGNORED = "IGNORED";

export type BuiltinTaskState =
  | typeof PENDING
  | typeof RECEIVED
  | typeof STARTED
  | typeof SUCCESS
  | typeof FAILURE
  | typeof REVOKED
  | typeof REJECTED
  | typeof RETRY
  | typeof IGNORED;

/** A built-in state or a custom one (`Task.update_state(state="PROGRESS")`). */
export type TaskStateName = BuiltinTaskState | (string & {});

export const ALL_STATES: ReadonlySet<string> = new Set([
  PENDING,
  RECEIVED,
  STARTED,
  SUCCESS,
  FAILURE,
  REVOKED,
  REJECTED,
  RETRY,
  IGNORED,
]);
/** Final states: `AsyncResult.get()` stops waiting on these. */
export const READY_STATES: ReadonlySet<string> = new Set([SUCCESS, FAILURE, REVOKED]);
export const UNREADY_STATES: ReadonlySet<string> = new Set([PENDING, RECEIVED, STARTED, REJECTED, RETRY]);
/** States whose `result` holds a serialized exception. */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([RETRY, FAILURE, REVOKED]);
/** States whose exception `get()` re-raises. */
export const PROPAGATE_STATES: ReadonlySet<string> = new Set([FAILURE, REVOKED]);
