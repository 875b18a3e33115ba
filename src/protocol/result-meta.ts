/**
 * Result metas: what a worker stores under `celery-task-meta-<id>` (and, on
 * 5.7, sends as the RPC reply), and the group meta under
 * `celery-taskset-meta-<gid>`. Mirrors celery/backends/base.py
 * `Backend._get_result_meta` + `BaseKeyValueStoreBackend._store_result`
 * (`task_id` appended last) and `_save_group`, and celery/result.py
 * `AsyncResult.as_tuple` / `GroupResult.as_tuple` / `result_from_tuple`.
 */
import type { CompatProfile } from "../compat.js";
import { ProtocolError } from "../errors.js";
import { formatPythonIsoformat, parseIsoDatetime } from "./datetime.js";
import { type ExcInfo, toExcInfo } from "./exceptions.js";
import { describeValue, isPlainObject, own, setOwn } from "./guards.js";
import { EXCEPTION_STATES, READY_STATES, type TaskStateName } from "./states.js";

/**
 * `AsyncResult.as_tuple()` = `((id, parent_tuple|None), None)`;
 * `GroupResult.as_tuple()` = `((id, parent_tuple|None), [child tuples])`.
 */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

/** A decoded result tuple. `children !== null` means a GroupResult. */
export interface ResultTupleNode {
  id: string;
  parent: ResultTupleNode | null;
  children: ResultTupleNode[] | null;
}

/** `AsyncResult(id, parent).as_tuple()`. */
export function asyncResultTuple(id: string, parent: ResultTuple | null = null): ResultTuple {
  return [[id, parent], null];
}

/** `GroupResult(gid, results, parent).as_tuple()`; plain ids become AsyncResult tuples. */
export function groupResultTuple(
  groupId: string,
  children: readonly (string | ResultTuple)[],
  parent: ResultTuple | null = null,
): ResultTuple {
  return [[groupId, parent], children.map((c) => (typeof c === "string" ? asyncResultTuple(c) : c))];
}

/** Mirrors celery/result.py `result_from_tuple` (which also accepts a bare id as the first element). */
export function parseResultTuple(value: unknown, path = "result tuple"): ResultTupleNode {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new ProtocolError(`${path} must be [[id, parent], children], got ${describeValue(value)}`);
  }
  const [head, nodes] = value as [unknown, unknown];
  let id: unknown = head;
  let parent: unknown = null;
  if (Array.isArray(head)) {
    if (head.length !== 2) throw new ProtocolError(`${path}[0] must be [id, parent]`);
    [id, parent] = head as [unknown, unknown];
  }
  if (typeof id !== "string")
    throw new ProtocolError(`${path} id must be a string, got ${describeValue(id)}`);
  let children: ResultTupleNode[] | null = null;
  if (nodes !== null && nodes !== undefined) {
    if (!Array.isArray(nodes)) throw new ProtocolError(`${path}[1] must be a list of result tuples or null`);
    children = nodes.map((n, i) => parseResultTuple(n, `${path}[1][${i}]`));
  }
  return {
    id,
    parent: parent === null || parent === undefined ? null : parseResultTuple(parent, `${path} parent`),
    children,
  };
}

/** The inverse of {@link parseResultTuple}. */
export function resultNodeToTuple(node: ResultTupleNode): ResultTuple {
  return [
    [node.id, node.parent ? resultNodeToTuple(node.parent) : null],
    node.children?.map(resultNodeToTuple) ?? null,
  ];
}

/** The request fields `_get_result_meta` reads (a worker's current task request). */
export interface ResultRequestInfo {
  /** Task name (`request.task`), stored as `name` when extended. */
  task?: string | null;
  args?: unknown[] | null;
  kwargs?: Record<string, unknown> | null;
  /** Worker node name (`request.hostname`), stored as `worker`. */
  hostname?: string | null;
  retries?: number | null;
  /** `delivery_info.routing_key`, stored as `queue`. */
  routingKey?: string | null;
  group?: string | null;
  parentId?: string | null;
  stampedHeaders?: string[] | null;
  stamps?: Record<string, unknown> | null;
}

export interface BuildResultMetaInput {
  taskId: string;
  status: TaskStateName;
  /** The return value, an ExcInfo for exception states, `{pid, hostname}` for STARTED. */
  result: unknown;
  traceback?: string | null;
  /** Result tuples of the tasks this task sent. Default: `[]` with a request, `null` without (control revoke). */
  children?: ResultTuple[] | null;
  /** The task's request; absent when written outside a task (Python's `request=None`). */
  request?: ResultRequestInfo | null;
  /** `result_extended`. */
  extended?: boolean;
  /** Clock for `date_done`; injectable for tests. */
  now?: Date;
}

/** The stored meta object, snake_case, in Celery's key order. */
export interface ResultMetaWire {
  status: string;
  result: unknown;
  traceback: string | null;
  children: ResultTuple[] | null;
  date_done: string | null;
  group_id?: string;
  parent_id?: string;
  name?: string | null;
  args?: unknown;
  kwargs?: unknown;
  worker?: string | null;
  retries?: number | null;
  queue?: string | null;
  stamped_headers?: string[] | null;
  task_id: string;
  [stamp: string]: unknown;
}

/**
 * Builds the meta exactly as `_store_result` writes it: status, result,
 * traceback, children, date_done, [group_id], [parent_id], [name, args,
 * kwargs, worker, retries, queue (+ stamps) when extended], task_id.
 * `date_done` is Python's `isoformat()` (fraction omitted when 0): naive
 * `utcnow()` on 5.2/5.3, `+00:00` aware from 5.4; null unless ready.
 */
export function buildResultMeta(input: BuildResultMetaInput, compat: CompatProfile): ResultMetaWire {
  if (typeof input.taskId !== "string" || input.taskId === "")
    throw new ProtocolError("taskId must be a non-empty string");
  if (typeof input.status !== "string" || input.status === "")
    throw new ProtocolError("status must be a non-empty string");
  const request = input.request ?? null;
  const meta: Record<string, unknown> = {
    status: input.status,
    // A JS `undefined` is Python's None: Celery always writes the key ("result": null).
    result: input.result === undefined ? null : input.result,
    traceback: input.traceback ?? null,
    children: input.children !== undefined ? input.children : request ? [] : null,
    date_done: READY_STATES.has(input.status)
      ? formatPythonIsoformat(input.now ?? new Date(), compat.dateDoneAware)
      : null,
  };
  if (request?.group) meta.group_id = request.group;
  if (request?.parentId) meta.parent_id = request.parentId;
  if (input.extended && request) {
    meta.name = request.task ?? null;
    meta.args = request.args ?? null;
    meta.kwargs = request.kwargs ?? null;
    meta.worker = request.hostname ?? null;
    meta.retries = request.retries ?? null;
    meta.queue = request.routingKey ?? null;
    const stamps = request.stamps;
    if (compat.stampHeaders && stamps && Object.keys(stamps).length > 0) {
      meta.stamped_headers = request.stampedHeaders ?? null;
      // 5.7 copies only the stamps named in stamped_headers; 5.3-5.6 copy them all.
      const named = new Set(request.stampedHeaders ?? []);
      const copyAll =
        compat.minor === "5.3" || compat.minor === "5.4" || compat.minor === "5.5" || compat.minor === "5.6";
      for (const [k, v] of Object.entries(stamps)) if (copyAll || named.has(k)) setOwn(meta, k, v);
    }
  }
  meta.task_id = input.taskId;
  return meta as ResultMetaWire;
}

/** A parsed result meta (camelCase). Unknown keys (stamps) land in `extra`. */
export interface ParsedResultMeta {
  taskId: string | null;
  status: TaskStateName;
  result: unknown;
  /** `result` when it is an exception triple (FAILURE/RETRY/REVOKED), else null. */
  exception: ExcInfo | null;
  traceback: string | null;
  children: ResultTupleNode[] | null;
  dateDone: Date | null;
  groupId: string | null;
  parentId: string | null;
  name: string | null;
  args: unknown;
  kwargs: unknown;
  worker: string | null;
  retries: number | null;
  queue: string | null;
  extra: Record<string, unknown>;
}

const KNOWN_KEYS = new Set([
  "status",
  "result",
  "traceback",
  "children",
  "date_done",
  "group_id",
  "parent_id",
  "name",
  "args",
  "kwargs",
  "worker",
  "retries",
  "queue",
  "task_id",
]);

function str(meta: Record<string, unknown>, key: string): string | null {
  const v = own(meta, key);
  if (v === undefined || v === null) return null;
  if (typeof v !== "string")
    throw new ProtocolError(`result meta ${key} must be a string or null, got ${describeValue(v)}`);
  return v;
}

/**
 * Validates and converts a decoded meta. A missing key is a backend concern
 * (a missing meta reads as PENDING there); malformed values throw ProtocolError.
 */
export function parseResultMeta(raw: unknown): ParsedResultMeta {
  if (!isPlainObject(raw))
    throw new ProtocolError(`result meta must be an object, got ${describeValue(raw)}`);
  const status = own(raw, "status");
  if (typeof status !== "string" || status === "") {
    throw new ProtocolError(`result meta status must be a non-empty string, got ${describeValue(status)}`);
  }
  const children = own(raw, "children");
  if (children !== undefined && children !== null && !Array.isArray(children)) {
    throw new ProtocolError(`result meta children must be a list or null, got ${describeValue(children)}`);
  }
  const rawDate = own(raw, "date_done");
  let dateDone: Date | null = null;
  if (rawDate instanceof Date) dateDone = rawDate;
  else if (rawDate !== undefined && rawDate !== null) {
    if (typeof rawDate !== "string")
      throw new ProtocolError("result meta date_done must be a string or null");
    dateDone = parseIsoDatetime(rawDate, "result meta date_done");
  }
  const retries = own(raw, "retries");
  if (retries !== undefined && retries !== null && !Number.isInteger(retries)) {
    throw new ProtocolError(`result meta retries must be an integer or null, got ${describeValue(retries)}`);
  }
  const result = own(raw, "result");
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) if (!KNOWN_KEYS.has(key)) setOwn(extra, key, raw[key]);
  return {
    taskId: str(raw, "task_id"),
    status,
    result: result ?? null,
    exception: EXCEPTION_STATES.has(status) ? toExcInfo(result) : null,
    traceback: str(raw, "traceback"),
    children: Array.isArray(children) ? children.map((c, i) => parseResultTuple(c, `children[${i}]`)) : null,
    dateDone,
    groupId: str(raw, "group_id"),
    parentId: str(raw, "parent_id"),
    name: str(raw, "name"),
    args: own(raw, "args") ?? null,
    kwargs: own(raw, "kwargs") ?? null,
    worker: str(raw, "worker"),
    retries: (retries as number | null | undefined) ?? null,
    queue: str(raw, "queue"),
    extra,
  };
}

/** The STARTED meta's result (`task_track_started`): `{pid, hostname}`. */
export interface StartedInfo {
  pid: number;
  hostname: string;
}

export function startedResult(info: StartedInfo): StartedInfo {
  return { pid: info.pid, hostname: info.hostname };
}

/** `{pid, hostname}` when `result` has that shape, else null (custom metas may use STARTED too). */
export function parseStartedResult(result: unknown): StartedInfo | null {
  if (!isPlainObject(result)) return null;
  const pid = own(result, "pid");
  const hostname = own(result, "hostname");
  return Number.isInteger(pid) && typeof hostname === "string" ? { pid: pid as number, hostname } : null;
}

/** `celery-taskset-meta-<gid>` value: `{"result": GroupResult.as_tuple()}` (celery/backends/base.py `BaseKeyValueStoreBackend._save_group`, 5.7.0). */
export interface GroupMetaWire {
  result: ResultTuple;
}

export function buildGroupMeta(groupId: string, children: readonly (string | ResultTuple)[]): GroupMetaWire {
  if (typeof groupId !== "string" || groupId === "")
    throw new ProtocolError("groupId must be a non-empty string");
  return { result: groupResultTuple(groupId, children) };
}

export interface GroupMeta {
  groupId: string;
  parent: ResultTupleNode | null;
  children: ResultTupleNode[];
}

export function parseGroupMeta(raw: unknown): GroupMeta {
  if (!isPlainObject(raw) || !Object.hasOwn(raw, "result")) {
    throw new ProtocolError(`group meta must be an object with "result", got ${describeValue(raw)}`);
  }
  const node = parseResultTuple(raw.result, "group meta result");
  if (node.children === null)
    throw new ProtocolError("group meta result must be a GroupResult tuple (children list)");
  return { groupId: node.id, parent: node.parent, children: node.children };
}
