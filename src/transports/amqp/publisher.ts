import type { ConfirmChannel } from "amqplib";
import { CeleryError, ConnectionLostError } from "../../errors.js";
import type { OutgoingMessage } from "../transport.js";
import type { AmqpConnection } from "./connection.js";
import { HeaderTables } from "./header-tables.js";
import { amqpPublishOptions } from "./message.js";

/**
 * Publishing on one ConfirmChannel (kombu `Producer.publish` with
 * `confirm_publish=True`), pipelined: every `publish()` writes its frames at
 * once and resolves on its own broker ack, so N concurrent publishes cost one
 * round trip, not N.
 *
 * Nothing is dropped silently. A publish whose channel or connection dies
 * before the broker confirmed it is written again on the next channel (the
 * broker may then hold it twice: at-least-once, as kombu's retry is), up to
 * `maxAttempts` channel failures; a broker nack or running out of attempts
 * rejects that publish's promise.
 */
export interface PublisherOptions {
  /** Channel failures one message survives before its promise rejects (default 10). */
  maxAttempts?: number;
  /** Wait for broker confirms (default true). Without them a publish resolves once written. */
  confirm?: boolean;
}

interface InFlight {
  message: OutgoingMessage;
  attempts: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
  /** `Date.now()` past which it rejects with `expired()` (Infinity: no timeout). */
  deadline: number;
  expired: (() => Error) | undefined;
}

export class BrokerNackError extends CeleryError {
  constructor(exchange: string, routingKey: string) {
    super(
      "ERR_BROKER_NACK",
      `RabbitMQ refused (nacked) a message to exchange "${exchange}" key "${routingKey}"`,
    );
  }
}

export class AmqpPublisher {
  private channel: ConfirmChannel | null = null;
  private opening: Promise<ConfirmChannel> | null = null;
  private readonly inFlight = new Set<InFlight>();
  private readonly waitingForDrain: InFlight[] = [];
  private draining = false;
  private closed = false;
  private readonly maxAttempts: number;
  private readonly confirm: boolean;
  /** One timer for every publish's timeout, due at the earliest deadline in flight. */
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweepAt = Number.POSITIVE_INFINITY;
  /** Reused headers objects, one per message shape (header-tables.ts says why). */
  private readonly headerTables = new HeaderTables();

  constructor(
    private readonly connection: AmqpConnection,
    options: PublisherOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 10;
    this.confirm = options.confirm ?? true;
  }

  /**
   * Resolves once the broker confirmed the message. With `timeoutMs`, rejects
   * with `expired()` when it is not confirmed by then; a message not yet
   * written is then never written.
   */
  publish(message: OutgoingMessage, timeoutMs?: number, expired?: () => Error): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionLostError("the AMQP publisher is closed"));
    return new Promise<void>((resolve, reject) => {
      const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
      const entry: InFlight = { message, attempts: 0, settled: false, resolve, reject, deadline, expired };
      this.inFlight.add(entry);
      if (timeoutMs !== undefined) this.armSweep(deadline);
      this.send(entry);
    });
  }

  /** Times out publishes by one timer (not one per message): due at the earliest deadline. */
  private armSweep(at: number): void {
    if (this.sweepTimer !== null && this.sweepAt <= at) return;
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
  }

  private sweep(): void {
    this.sweepTimer = null;
    this.sweepAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.inFlight) {
      if (entry.deadline <= now) {
        this.settle(entry, entry.expired?.() ?? new ConnectionLostError("publish timed out"));
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.armSweep(next);
  }

  /** Messages written but not yet confirmed (or waiting for a channel). */
  get pending(): number {
    return this.inFlight.size;
  }

  private settle(entry: InFlight, err: Error | null): void {
    if (entry.settled) return;
    entry.settled = true;
    this.inFlight.delete(entry);
    if (this.inFlight.size === 0 && this.sweepTimer !== null) {
      // Nothing left to time out: no timer keeps the process alive.
      clearTimeout(this.sweepTimer);
      this.sweepTimer = null;
      this.sweepAt = Number.POSITIVE_INFINITY;
    }
    if (err) entry.reject(err);
    else entry.resolve();
  }

  private getChannel(): Promise<ConfirmChannel> {
    if (this.channel !== null) return Promise.resolve(this.channel);
    this.opening ??= this.connection
      .channel(true)
      .then(({ channel }) => {
        channel.on("close", () => this.onChannelClosed(channel));
        channel.on("drain", () => this.flushDrain());
        this.channel = channel;
        return channel;
      })
      .finally(() => {
        this.opening = null;
      });
    return this.opening;
  }

  private send(entry: InFlight): void {
    if (entry.settled) return;
    if (this.draining) {
      this.waitingForDrain.push(entry);
      return;
    }
    const fromChannel = this.channel;
    if (fromChannel === null) {
      this.getChannel().then(
        () => this.send(entry),
        // Often the connection is dying and does not know yet: try again a
        // little later, by which time `model()` waits for the reconnect.
        (err: Error) => setTimeout(() => this.retry(entry, err), 20 * (entry.attempts + 1)).unref(),
      );
      return;
    }
    const m = entry.message;
    let written: boolean;
    try {
      written = fromChannel.publish(
        m.exchange,
        m.routingKey,
        Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
        amqpPublishOptions(m, this.headerTables),
        (err: unknown) => this.onConfirm(entry, fromChannel, err),
      );
    } catch (err) {
      // Closed channel (IllegalOperationError) or an unencodable header.
      if (this.channel === fromChannel && !(err instanceof TypeError || err instanceof RangeError)) {
        this.channel = null;
        this.retry(entry, err as Error);
      } else if (err instanceof TypeError || err instanceof RangeError) {
        this.settle(entry, err);
      } else {
        this.retry(entry, err as Error);
      }
      return;
    }
    if (!this.confirm) this.settle(entry, null);
    if (!written) this.draining = true;
  }

  private onConfirm(entry: InFlight, channel: ConfirmChannel, err: unknown): void {
    if (err === null || err === undefined) {
      this.settle(entry, null);
      return;
    }
    // amqplib calls back with Error("message nacked") for a basic.nack and
    // with Error("channel closed") for every unconfirmed message when the
    // channel closes (lib/channel.js constructor): only the latter is retried.
    const error = err instanceof Error ? err : new Error(String(err));
    if (error.message === "message nacked") {
      this.settle(entry, new BrokerNackError(entry.message.exchange, entry.message.routingKey));
      return;
    }
    if (this.channel === channel) this.channel = null;
    this.retry(entry, error);
  }

  private retry(entry: InFlight, cause: Error): void {
    if (entry.settled) return;
    entry.attempts += 1;
    if (this.closed || entry.attempts >= this.maxAttempts) {
      this.settle(
        entry,
        new ConnectionLostError(
          `publish to exchange "${entry.message.exchange}" key "${entry.message.routingKey}" failed after ${entry.attempts} channel losses: ${cause.message}`,
          { cause },
        ),
      );
      return;
    }
    this.send(entry);
  }

  private onChannelClosed(channel: ConfirmChannel): void {
    if (this.channel === channel) this.channel = null;
    // amqplib already called back every unconfirmed publish with an error; the
    // drain waiters were never written: send them on the next channel.
    this.draining = false;
    this.flushDrain();
  }

  private flushDrain(): void {
    this.draining = false;
    const waiting = this.waitingForDrain.splice(0);
    for (const entry of waiting) this.send(entry);
  }

  /** Waits for every in-flight publish to settle, then closes the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    const pending = [...this.inFlight].map(
      (e) =>
        new Promise<void>((resolve) => {
          const { resolve: res, reject: rej } = e;
          e.resolve = () => {
            res();
            resolve();
          };
          e.reject = (err) => {
            rej(err);
            resolve();
          };
        }),
    );
    await Promise.all(pending);
    this.closed = true;
    const channel = this.channel;
    this.channel = null;
    if (channel) await channel.close().catch(() => {});
  }
}
