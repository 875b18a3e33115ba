import type { PublishOptions } from "../canvas/options.js";
import { type RouteLookup, routeSignatureDict } from "../canvas/routes.js";
import type { Settings } from "../config.js";
import { type BuildTaskInput, buildTaskMessage } from "../protocol/build.js";
import type { SignatureDict, TaskMessage } from "../protocol/task-message.js";
import type { CompressionName, SerializerName } from "../serialization/index.js";
import type { NativeDelay, OutgoingMessage, QueueSpec } from "../transports/transport.js";
import { compressBody, serializeBody } from "./codecs.js";
import { currentWorkerTask } from "./current-task.js";
import type { ResolvedRoute, Router } from "./router.js";
import { signatureList } from "./send-options.js";

/** What a send outside any running task inherits: nothing (one shared, frozen object). */
const NOTHING_INHERITED: PublishOptions = Object.freeze({});

export interface PreparedMessage {
  message: OutgoingMessage;
  taskMessage: TaskMessage;
  route: ResolvedRoute;
  declare: QueueSpec[];
}

export interface ProducerIdentity {
  origin: string;
  /** Default `reply_to` (Celery's `app.thread_oid`). */
  replyTo: string;
}

/**
 * Turns a task call into the message a transport publishes: route
 * (celery/app/routes.py), `buildTaskMessage` (celery/app/amqp.py
 * `as_task_v2`), serializer + compression (kombu `Producer._prepare`: the
 * `compression` header carries the MIME type, content type stays the
 * serializer's). `nativeDelay` is the broker transport's native delay (absent
 * on Redis): asked only for a message with an ETA.
 */
export function prepareTaskMessage(
  settings: Settings,
  router: Router,
  identity: ProducerIdentity,
  name: string,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: PublishOptions,
  nativeDelay?: NativeDelay,
): PreparedMessage {
  const route = router.route(
    options.routeName ?? name,
    {
      queue: options.queue,
      exchange: options.exchange,
      routingKey: options.routingKey,
      priority: options.priority,
    },
    args,
    kwargs,
  );
  // celery/app/base.py send_task (5.7.0): a task sent from inside a running task gets it as
  // parent, its root (or itself) as root, and with task_inherit_parent_priority its priority.
  const parent = currentWorkerTask();
  const inherited: PublishOptions = parent ? {} : NOTHING_INHERITED;
  if (parent && (!options.rootId || !options.parentId)) {
    if (!options.rootId) inherited.rootId = parent.rootId || parent.id;
    if (!options.parentId) inherited.parentId = parent.id;
    if (settings.taskInheritParentPriority && options.priority === undefined && parent.priority !== null)
      inherited.priority = parent.priority;
  }
  const priority =
    options.priority ?? route.priority ?? inherited.priority ?? settings.taskDefaultPriority ?? undefined;
  const input: BuildTaskInput = {
    args: [...args],
    kwargs,
    origin: identity.origin,
    replyTo: options.replyTo ?? identity.replyTo,
    deliveryMode: settings.taskDefaultDeliveryMode,
    argsReprStyle: options.argsReprStyle ?? "tuple",
  };
  if (options.taskId !== undefined) input.id = options.taskId;
  if (options.countdown !== undefined) input.countdown = options.countdown;
  if (options.eta !== undefined) input.eta = options.eta;
  if (options.etaIso !== undefined) input.eta = options.etaIso;
  if (options.expires !== undefined) input.expires = options.expires;
  if (options.expiresIso !== undefined) input.expires = options.expiresIso;
  if (options.expiresSeconds !== undefined) input.expiresSeconds = options.expiresSeconds;
  if (priority !== undefined) input.priority = priority;
  if (options.shadow !== undefined) input.shadow = options.shadow;
  if (options.timeLimit !== undefined) input.timeLimit = options.timeLimit;
  if (options.softTimeLimit !== undefined) input.softTimeLimit = options.softTimeLimit;
  if (options.ignoreResult !== undefined) input.ignoreResult = options.ignoreResult;
  if (options.headers !== undefined) input.headers = options.headers;
  const parentId = inherited.parentId ?? options.parentId;
  const rootId = inherited.rootId ?? options.rootId;
  if (parentId !== undefined) input.parentId = parentId;
  if (rootId !== undefined) input.rootId = rootId;
  if (options.groupId !== undefined) input.groupId = options.groupId;
  if (options.groupIndex !== undefined) input.groupIndex = options.groupIndex;
  if (options.argsrepr !== undefined) input.argsrepr = options.argsrepr;
  if (options.kwargsrepr !== undefined) input.kwargsrepr = options.kwargsrepr;
  if (options.retries !== undefined) input.retries = options.retries;
  if (options.replacedTaskNesting !== undefined) input.replacedTaskNesting = options.replacedTaskNesting;
  if (options.stampedHeaders !== undefined) input.stampedHeaders = options.stampedHeaders;
  if (options.stamps !== undefined) input.stamps = options.stamps;
  if (options.extraProperties !== undefined) input.extraProperties = options.extraProperties;
  if (
    options.chain !== undefined ||
    options.chord !== undefined ||
    options.link !== undefined ||
    options.linkError !== undefined
  ) {
    // The signatures this message carries for later get this app's routes (src/canvas/routes.ts).
    const lookup: RouteLookup = (task, a, k, o) => router.lookup(task, a, k, o);
    const routed = (sig: SignatureDict) => routeSignatureDict(sig, lookup);
    if (options.chain !== undefined) input.chain = options.chain === null ? null : options.chain.map(routed);
    if (options.chord !== undefined) input.chord = options.chord === null ? null : routed(options.chord);
    const callbacks = signatureList("link", options.link);
    if (callbacks) input.callbacks = callbacks.map(routed);
    const errbacks = signatureList("linkError", options.linkError);
    if (errbacks) input.errbacks = errbacks.map(routed);
  }

  const taskMessage = buildTaskMessage(name, input, settings.compat);
  const serializer: SerializerName = options.serializer ?? settings.taskSerializer;
  const serialized = serializeBody(taskMessage.body, serializer, settings);
  const headers: Record<string, unknown> = taskMessage.headers;
  let body: Uint8Array = serialized.body;
  const compression: CompressionName | null = options.compression ?? settings.taskCompression;
  if (compression) {
    const compressed = compressBody(body, compression);
    body = compressed.data;
    headers.compression = compressed.mime;
  }
  // A broker with native delay (RabbitMQ, quorum queues) holds an ETA task (celery/app/base.py send_task).
  const delayed =
    taskMessage.headers.eta === null || nativeDelay === undefined
      ? null
      : nativeDelay({
          queue: route.queue,
          countdown: options.countdown,
          etaGiven: options.eta !== undefined || options.etaIso !== undefined,
          eta: taskMessage.headers.eta,
          now: Date.now(),
        });
  const message: OutgoingMessage = {
    body,
    contentType: serialized.contentType,
    contentEncoding: serialized.contentEncoding,
    headers,
    properties: taskMessage.properties,
    exchange: delayed?.exchange ?? route.exchange,
    routingKey: delayed?.routingKey ?? route.routingKey,
  };
  // A delayed message still names its queue: the AMQP transport declares it, the delay levels
  // and the queue's delivery binding first (transports/amqp/), so nothing published
  // before any worker started is dropped at the end of its delay.
  return { message, taskMessage, route, declare: [route.queue] };
}
