import type { ReplyDestination } from "../backends/backend.js";
import type { CompatProfile } from "../compat.js";
import { ContentDisallowedError, DecodeError, NotRegisteredError, ProtocolError } from "../errors.js";
import type { Logger } from "../logging.js";
import { logSafe, pyStrRepr } from "../protocol/py-repr.js";
import { saferepr } from "../protocol/saferepr.js";
import type { Delivery } from "../transports/transport.js";
import type { BodyDecoder } from "./body-codec.js";
import { buildWorkerRequest, taskNameOf, type WorkerRequest } from "./request.js";
import { requestResultMeta } from "./result-meta.js";
import type { TaskDefinition, TaskRegistry } from "./task-registry.js";
import type { TaskRunner } from "./task-runner.js";

/**
 * The first gate a delivered message passes, before any scheduling: decode
 * it, find its task, build the request. Every way a message can be bad is
 * settled here exactly as Celery's consumer settles it, so one poison message
 * never stops the worker and never takes another message with it:
 *
 * - undecodable body (`DecodeError`): critical log, then ack = discard
 *   (celery/worker/consumer/consumer.py `on_decode_error`);
 * - content type not accepted (pickle, ...): reject without requeue (`on_invalid_task`);
 * - no task name anywhere: reject (`on_unknown_message`);
 * - a task name nobody registered: reject and store FAILURE `NotRegistered` (`on_unknown_task`);
 * - a malformed task message (`ProtocolError`): reject without requeue (`on_invalid_task`).
 */
export interface AdmissionDeps {
  decodeBody: BodyDecoder;
  registry: TaskRegistry;
  logger: Logger;
  hostname: string;
  compat: CompatProfile;
  store: TaskRunner["store"];
}

export interface Admitted {
  request: WorkerRequest;
  task: TaskDefinition;
}

/** Returns the request to run, or null when the message was bad and has been settled. */
export function admitMessage(delivery: Delivery, deps: AdmissionDeps): Admitted | null {
  const { logger } = deps;
  const headers = delivery.headers;
  let payload: unknown;
  try {
    payload = deps.decodeBody(delivery);
  } catch (err) {
    if (err instanceof DecodeError) {
      logger.fatal(
        `Can't decode message body: ${err.message} [type:${pyStrRepr(delivery.contentType)} encoding:${pyStrRepr(delivery.contentEncoding)} headers:${headersRepr(headers)}]`,
      );
      void delivery.ack().catch(() => undefined);
      return null;
    }
    if (err instanceof ContentDisallowedError) {
      logger.error(
        `Received invalid task message: ${err.message}. The message has been ignored and discarded.`,
      );
      void delivery.reject(false).catch(() => undefined);
      return null;
    }
    throw err;
  }
  const name = taskNameOf(headers, payload);
  if (name === null) {
    logger.warn(`Received and deleted unknown message. Wrong destination?!? headers:${headersRepr(headers)}`);
    void delivery.reject(false).catch(() => undefined);
    return null;
  }
  const task = deps.registry.get(name);
  if (!task) {
    rejectUnknownTask(delivery, name, payload, deps);
    return null;
  }
  try {
    return {
      request: buildWorkerRequest(headers, delivery.properties, payload, delivery.deliveryInfo),
      task,
    };
  } catch (err) {
    if (err instanceof ProtocolError) {
      logger.error(
        `Received invalid task message: ${err.message}. The message has been ignored and discarded.`,
      );
      void delivery.reject(false).catch(() => undefined);
      return null;
    }
    throw err;
  }
}

/**
 * Headers for a log line (Celery's `dump_body`/`safe_repr`): never throws (a BigInt, a cycle, a
 * deep table), at most 512 characters, and a newline in a value is escaped, never printed.
 */
function headersRepr(headers: Record<string, unknown>): string {
  try {
    return logSafe(saferepr(headers, { maxlen: 512 }));
  } catch (err) {
    return `<headers not representable: ${logSafe(String(err))}>`;
  }
}

/** Consumer.on_unknown_task: reject and store FAILURE NotRegistered(name). */
function rejectUnknownTask(delivery: Delivery, name: string, payload: unknown, deps: AdmissionDeps): void {
  deps.logger.error(
    `Received unregistered task of type ${pyStrRepr(name)}. The message has been ignored and discarded. Did you remember to import the module containing this task?`,
  );
  const body = payload as Record<string, unknown> | null;
  const id =
    typeof delivery.headers.id === "string"
      ? delivery.headers.id
      : typeof body?.id === "string"
        ? body.id
        : null;
  void delivery.reject(false).catch(() => undefined);
  if (id === null) return;
  const exc = new NotRegisteredError(name);
  const meta = requestResultMeta(
    "FAILURE",
    { exc_type: "NotRegistered", exc_message: [exc.taskName], exc_module: "celery.exceptions" },
    null,
    { id },
    { hostname: deps.hostname, resultExtended: false, compat: deps.compat },
  );
  // Consumer.on_unknown_task passes reply_to/correlation_id from the message properties.
  const { reply_to: replyTo, correlation_id: correlationId } = delivery.properties;
  const destination: ReplyDestination = {
    replyTo: typeof replyTo === "string" ? replyTo : null,
    correlationId: typeof correlationId === "string" ? correlationId : null,
  };
  void deps.store(meta, destination);
}
