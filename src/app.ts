import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ResultBackend } from "./backends/backend.js";
import { checkBackendSettings, createResultBackend } from "./backends/factory.js";
import { Beat, type BeatOptions } from "./beat/service.js";
import type { PublishOptions, SendTaskOptions } from "./canvas/options.js";
import type { Signature } from "./canvas/signature.js";
import { clearCurrentApp, setCurrentApp } from "./client/current-app.js";
import { addTrail, currentWorkerTask } from "./client/current-task.js";
import { type PreparedMessage, prepareTaskMessage } from "./client/producer.js";
import { type AnyResult, AsyncResult } from "./client/result.js";
import { Router } from "./client/router.js";
import { checkSendOptions } from "./client/send-options.js";
import { type TaskSignature, taskSignature } from "./client/signature.js";
import type { CeleryOptions, Settings } from "./config.js";
import { resolveSettings } from "./config-checks.js";
import { Control } from "./control/control.js";
import { ConfigError } from "./errors.js";
import { AppEvents } from "./events/app-events.js";
import { checkLogger, type Logger } from "./logging.js";
import { asyncResultTuple } from "./protocol/result-meta.js";
import { startPublishSpan } from "./tracing.js";
import {
  brokerNativeDelay,
  checkBrokerSettings,
  createBrokerTransport,
  isAmqpBrokerUrl,
} from "./transports/factory.js";
import type { NativeDelay, Transport } from "./transports/transport.js";
import { createTaskRegistry, createWorker } from "./worker/app-hooks.js";
import { applyEagerly, applyThroughApp } from "./worker/eager-canvas.js";
import { type TaskHandle, taskHandle } from "./worker/task-handle.js";
import type { ModuleHandler, TaskHandler, TaskOptions, TaskRegistry } from "./worker/task-registry.js";
import type { Worker, WorkerOptions } from "./worker/worker.js";

/**
 * The Celery application facade (celery/app/base.py `Celery`): settings,
 * router, broker transport and result backend, each opened on first use.
 *
 * Producer entry points: {@link Celery.sendTask}, {@link Celery.signature}.
 * Collaborators exposed for the worker, canvas and control code (documented,
 * stable): `settings`, `router`, `transport`, `backend`, `origin`, `oid`,
 * `publishTask()` (the internal send used by retries and chains, no option
 * validation), `asyncResult()`. `app.task(...)` / `app.worker(...)` are
 * added by `src/worker` as functions taking the app.
 */
export class Celery {
  readonly settings: Settings;
  readonly router: Router;
  /** `gen<pid>@<hostname>` (Celery's `anon_nodename()`), the `origin` header. */
  readonly origin: string;
  /** This app's reply-to id (Celery's `app.thread_oid`), default `reply_to` property. */
  readonly oid: string;
  /** `amqp://`/`amqps://`/`pyamqp://` broker: the AMQP transport; else kombu's Redis transport. */
  readonly brokerIsAmqp: boolean;
  /** The TS tasks this app can run (`app.task(...)`; Celery's `app.tasks`). */
  readonly registry: TaskRegistry;
  /**
   * Native delay as the broker's transport offers it (RabbitMQ; undefined on Redis), wired
   * from the broker URL and queue table without opening the transport: where a message with
   * an ETA is published.
   */
  readonly nativeDelay: NativeDelay | undefined;
  private transportInstance: Transport | null = null;
  private controlInstance: Control | null = null;
  private eventsInstance: AppEvents | null = null;
  private backendInstance: ResultBackend | null = null;
  private closed = false;

  /** The logger given as `new Celery({ logger })`; workers and beat of this app log through it. */
  readonly logger: Logger | undefined;

  constructor(options: CeleryOptions = {}) {
    const isObject = options !== null && typeof options === "object";
    // `logger` is not a Celery setting: taken out before the settings are checked.
    this.settings = resolveSettings(
      isObject
        ? (Object.fromEntries(Object.entries(options).filter(([k]) => k !== "logger")) as CeleryOptions)
        : options,
    );
    this.logger = isObject && options.logger !== undefined ? checkLogger(options.logger) : undefined;
    const s = this.settings;
    // URLs are checked now so a bad one fails at construction, before anything is sent.
    checkBrokerSettings(s);
    this.brokerIsAmqp = isAmqpBrokerUrl(s.broker);
    checkBackendSettings(s);
    this.router = new Router(s);
    this.nativeDelay = brokerNativeDelay(s.broker, this.router.appQueues());
    this.registry = createTaskRegistry(s);
    this.origin = `gen${process.pid}@${hostname()}`;
    this.oid = randomUUID();
    // Celery(set_as_current=True): a workflow built with s()/chain() and no app is sent through this one.
    setCurrentApp(this);
  }

  /** The broker transport (transports/factory.ts picks it from the URL), created on first use. */
  get transport(): Transport {
    this.assertOpen();
    this.transportInstance ??= createBrokerTransport({
      settings: this.settings,
      exchangeTypes: this.router.exchangeTypes(),
      appQueues: this.router.appQueues(),
    });
    return this.transportInstance;
  }

  /** The result backend (backends/factory.ts picks it from the URL), or null when no `backend` is configured (Celery's DisabledBackend). */
  get backend(): ResultBackend | null {
    this.assertOpen();
    if (this.backendInstance === null && this.settings.backend !== null) {
      this.backendInstance = createResultBackend({
        settings: this.settings,
        oid: this.oid,
        brokerTransport: () => this.transport,
      });
    }
    return this.backendInstance;
  }

  private assertOpen(): void {
    if (this.closed) throw new ConfigError("app", "this Celery app is closed");
  }

  /**
   * Sends a task by name (celery/app/base.py `Celery.send_task`). Resolves
   * once the message is in the broker; every option is checked first.
   */
  sendTask<R = unknown>(
    name: string,
    args?: readonly unknown[] | null,
    kwargs?: Record<string, unknown> | null,
    options?: SendTaskOptions,
  ): Promise<AsyncResult<R>> {
    try {
      checkSendOptions(name, args, kwargs, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.publishTask<R>(name, args ?? [], kwargs ?? {}, options ?? {});
  }

  /** Builds the message without sending it (for tests, benchmarks and dry runs). */
  prepareTask(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: PublishOptions = {},
  ): PreparedMessage {
    return prepareTaskMessage(
      this.settings,
      this.router,
      { origin: this.origin, replyTo: this.oid },
      name,
      args,
      kwargs,
      options,
      this.nativeDelay,
    );
  }

  /**
   * The internal send used by `sendTask`, task retries and chain steps: no
   * public-option validation, accepts the internal fields of {@link PublishOptions}.
   */
  publishTask<R = unknown>(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: PublishOptions = {},
  ): Promise<AsyncResult<R>> {
    // Not async: the message goes to the transport in this call (no tick in between), so a
    // burst of sends reaches the publisher's batch while it is built and nothing of a message
    // but its id outlives the publish (the per-message cost of a burst is mostly GC).
    let span: ReturnType<typeof startPublishSpan> = null;
    try {
      const prepared = this.prepareTask(name, args, kwargs, options);
      const id = prepared.taskMessage.headers.id;
      // OpenTelemetry (src/tracing.ts): a producer span whose context travels in the headers.
      span = startPublishSpan(
        { name, id, routingKey: prepared.message.routingKey },
        prepared.message.headers,
      );
      const published = this.sendPrepared(prepared, options.ignoreResult === true);
      // celery/app/amqp.py send_task_message: task-sent after the publish (src/events).
      const sentEvent = this.settings.taskSendSentEvent
        ? {
            message: prepared.taskMessage,
            route: {
              queue: prepared.route.queue.name,
              exchange: prepared.message.exchange,
              routingKey: prepared.message.routingKey,
            },
          }
        : null;
      const publishSpan = span;
      // The usual send (no recording span, no task-sent event): one callback, and a rejection
      // passes through as it is.
      if (publishSpan === null && sentEvent === null) return published.then(() => this.sent<R>(id, name));
      return published.then(
        () => {
          publishSpan?.end();
          if (sentEvent) this.events.taskSent(sentEvent.message, sentEvent.route);
          return this.sent<R>(id, name);
        },
        (err: unknown) => {
          publishSpan?.end(err);
          throw err;
        },
      );
    } catch (err) {
      span?.end(err);
      return Promise.reject(err);
    }
  }

  /** The result handle of a published send. */
  private sent<R>(id: string, name: string): AsyncResult<R> {
    // send_task(add_to_parent=True): a task sent from inside a task joins its children.
    if (currentWorkerTask() !== null) addTrail(asyncResultTuple(id));
    return new AsyncResult<R>(id, this.backend, name);
  }

  /**
   * Publishes a prepared message. Its own function so that the callbacks of
   * {@link publishTask} do not keep the message alive until the broker answers.
   */
  private sendPrepared(prepared: PreparedMessage, ignoreResult: boolean): Promise<void> {
    // celery/app/base.py send_task: `backend.on_task_call` before the publish. For rpc:// this
    // declares the reply queue first; a reply sent to a queue not yet declared is dropped.
    const backend = ignoreResult ? null : this.backend;
    if (backend?.onTaskCall) {
      return backend
        .onTaskCall(prepared.taskMessage.headers.id)
        .then(() => this.transport.publish(prepared.message, prepared.declare));
    }
    return this.transport.publish(prepared.message, prepared.declare);
  }

  /** A handle on an existing task id (`app.AsyncResult(id)`). */
  asyncResult<R = unknown>(taskId: string): AsyncResult<R> {
    return new AsyncResult<R>(taskId, this.backend);
  }

  /** A typed handle on a (usually remote) task: `delay`, `applyAsync`, `s`, `si`. */
  signature<Args extends unknown[] = unknown[], Result = unknown>(
    name: string,
    defaults: SendTaskOptions = {},
  ): TaskSignature<Args, Result> {
    checkSendOptions(name, [], {}, defaults);
    return taskSignature<Args, Result>(this, name, defaults);
  }

  /**
   * Registers a TS task that Python (or TS) producers can call by name
   * (Celery's `@app.task(name=...)`). The handler gets the request context
   * first, then the positional args. Returns a handle typed from the handler
   * (`delay`, `applyAsync`, `s`, `si`, `apply` for an in-process run).
   */
  task<A extends unknown[], R>(
    name: string,
    handler: TaskHandler<A, R> | ModuleHandler,
    options?: TaskOptions,
  ): TaskHandle<A, Awaited<R>> {
    return taskHandle<A, Awaited<R>>(this, this.registry.register(name, handler, options));
  }

  /** `sig.apply_async(...)` for canvas signatures bound to this app (src/client/signature-methods.ts). */
  applySignature(
    sig: Signature,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<AnyResult> {
    return applyThroughApp(this, sig, args, kwargs, options);
  }

  /** `sig.apply(...)`: runs a signature or workflow in this process with this app's tasks. */
  applySignatureEagerly(
    sig: Signature,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<AnyResult> {
    return applyEagerly(this, sig, args, kwargs, options);
  }

  /** A worker consuming this app's queues and running its registered tasks (`celery worker`). */
  worker(options?: WorkerOptions): Worker {
    return createWorker(this, options);
  }

  /**
   * The periodic task scheduler over `beatSchedule` (`celery beat`; src/beat).
   * `await beat.start()` runs until `beat.stop()`. Bad entries and an unknown
   * scheduler throw a ConfigError here, before anything is sent.
   */
  beat(options?: BeatOptions): Beat {
    this.assertOpen();
    return new Beat(this, options);
  }

  /** Remote control of Python and TS workers (`app.control`; src/control). */
  get control(): Control {
    this.assertOpen();
    this.controlInstance ??= new Control(this);
    return this.controlInstance;
  }

  /** Events: the producer's dispatcher, `receiver(handlers)`, `State` (`app.events`; src/events). */
  get events(): AppEvents {
    this.assertOpen();
    this.eventsInstance ??= new AppEvents(this);
    return this.eventsInstance;
  }

  /** Flushes pending publishes and closes every connection this app opened. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearCurrentApp(this);
    await Promise.all([this.eventsInstance?.close(), this.controlInstance?.close()]);
    await Promise.all([this.transportInstance?.close(), this.backendInstance?.close()]);
  }
}
