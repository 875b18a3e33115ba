/**
 * The shape of a Celery task message (protocol v2) as plain, already-decoded
 * JS values. Serialization (JSON/msgpack/yaml, compression) and the transport
 * envelope live elsewhere; everything here is what `AMQP.as_task_v2` returns
 * before kombu serializes it (celery/app/amqp.py `task_message(headers,
 * properties, body, sent_event)`).
 */

/**
 * A serialized Celery `Signature` (a `dict` subclass on the Python side, so
 * it crosses the wire as a plain object). Shared with `canvas/`.
 * Mirrors celery/canvas.py `Signature.__init__` (5.7.0).
 */
export interface SignatureDict {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** `apply_async` options; frozen signatures also carry task_id, reply_to, group_id, … */
  options: Record<string, unknown>;
  /** null, "chain", "group", "chord", "xmap", "xstarmap" or "chunks". */
  subtask_type: string | null;
  immutable: boolean;
  /** Python tolerates extra keys (e.g. `chord_size`); so do we. */
  [extra: string]: unknown;
}

/** The third body element: canvas continuations (celery/app/amqp.py as_task_v2). */
export interface Embed {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}

/** `[args, kwargs, embed]`: always exactly three elements: a worker given two cannot
 * unpack it (celery/worker/request.py `Request.__init__`) and Celery stops the whole worker. */
export type TaskBody = [args: unknown[], kwargs: Record<string, unknown>, embed: Embed];

/**
 * Every header `as_task_v2` writes, in the order it writes them
 * (celery/app/amqp.py `AMQP.as_task_v2`, 5.7.0). `replaced_task_nesting`, `stamped_headers` and `stamps`
 * only exist from 5.3 on; custom headers (`apply_async(headers=...)`) are
 * appended after them.
 */
export interface TaskHeaders {
  lang: string;
  task: string;
  id: string;
  shadow: string | null;
  /** ISO-8601 string or null. */
  eta: string | null;
  /** ISO-8601 string or null. */
  expires: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  /** `[hard, soft]`: hard limit FIRST (Request.execute_using_pool). */
  timelimit: [number | null, number | null];
  root_id: string;
  parent_id: string | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string;
  /** 5.7 send_task writes null when the caller gave none ("use the task's setting"). */
  ignore_result: boolean | null;
  replaced_task_nesting?: number;
  stamped_headers?: string[] | null;
  stamps?: Record<string, unknown>;
  /** Custom headers merged last (`headers2.update(headers)` in send_task_message). */
  [custom: string]: unknown;
}

/**
 * Message properties as Celery/kombu set them for a task. `content_type`
 * and `content_encoding` are added by the serializer layer, the envelope's
 * `delivery_info`/`delivery_tag`/`body_encoding` by the transport.
 * Key order mirrors kombu `Producer.publish`: correlation_id, reply_to,
 * leftover options, delivery_mode, expiration, then priority (added by
 * `Channel.prepare_message`).
 */
export interface TaskProperties {
  correlation_id: string;
  reply_to: string;
  delivery_mode: number;
  /** `str(int(expires_seconds * 1000))`, only when `expires` was given. */
  expiration?: string;
  /**
   * `Producer.publish(priority=0)` by default. null when Celery passed
   * `priority=None` explicitly (it does for `apply_async(queue=...)`, whose
   * route keeps the task's None priority): the Redis envelope then writes 0
   * (`priority or default_priority`), AMQP leaves the property out.
   */
  priority: number | null;
  [extra: string]: unknown;
}

/** One task message, transport independent. */
export interface TaskMessage {
  headers: TaskHeaders;
  properties: TaskProperties;
  body: TaskBody;
}

/** The body of a protocol v1 message (celery/app/amqp.py as_task_v1), in Celery's key order. */
export interface TaskBodyV1 {
  task: string;
  id: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  group: string | null;
  group_index: number | null;
  retries: number;
  eta: string | null;
  expires: string | null;
  utc: boolean;
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  timelimit: [number | null, number | null];
  taskset: string | null;
  chord: SignatureDict | null;
}

/** A protocol v1 message: empty headers, dict body. */
export interface TaskMessageV1 {
  headers: Record<string, never>;
  properties: TaskProperties;
  body: TaskBodyV1;
}
