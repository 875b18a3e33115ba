import type { Channel, ChannelModel } from "amqplib";
import type { AmqpConnection } from "./connection.js";
import { applyDeclarations } from "./declare.js";
import type { Declarations } from "./topology.js";

/**
 * What the transport has declared, by key: kombu's `maybe_declare` cache
 * (kombu/common.py `_maybe_declare`, 5.7.0, keyed on the connection's
 * `declared_entities`, which a reconnect empties). Every declaration ever made
 * is remembered and made again, in order, on each new connection before the
 * consumers come back; a declaration already taken on the open connection is
 * not sent again.
 */
export class DeclaredEntities {
  /** Everything ever declared, in order, for re-declaration after a reconnect. */
  private readonly remembered = new Map<string, Declarations>();
  /** Declarations done (or in progress) on the current connection generation. */
  private generation = -1;
  private readonly inProgress = new Map<string, Promise<void>>();
  /** Keys of {@link inProgress} whose declarations the broker took on this connection. */
  private readonly done = new Set<string>();

  constructor(
    private readonly connection: AmqpConnection,
    /** Runs one operation on the transport's admin channel. */
    private readonly onAdmin: (run: (channel: Channel) => Promise<void>) => Promise<void>,
  ) {}

  /** The connection's setup hook: re-declares everything remembered on the new connection. */
  async redeclareAll(model: ChannelModel, generation: number): Promise<void> {
    this.generation = generation;
    this.inProgress.clear();
    this.done.clear();
    if (this.remembered.size === 0) return;
    const channel = await this.connection.openChannel(model, false);
    try {
      for (const [key, declarations] of this.remembered) {
        await applyDeclarations(channel, declarations);
        this.inProgress.set(key, Promise.resolve());
        this.done.add(key);
      }
    } finally {
      await channel.close().catch(() => {});
    }
  }

  /** Declares once per connection and remembers the declarations for reconnects. */
  async declare(key: string, declarations: Declarations): Promise<void> {
    await this.connection.model();
    if (this.generation !== this.connection.generation) {
      this.generation = this.connection.generation;
      this.inProgress.clear();
      this.done.clear();
    }
    let declared = this.inProgress.get(key);
    if (declared === undefined) {
      const generation = this.generation;
      declared = this.onAdmin((channel) => applyDeclarations(channel, declarations)).then(() => {
        this.remembered.set(key, declarations);
        if (this.generation === generation && this.inProgress.has(key)) this.done.add(key);
      });
      this.inProgress.set(key, declared);
      declared.catch(() => this.inProgress.delete(key));
    }
    return declared;
  }

  /** Remembers declarations another channel makes (a consumer's), for the next reconnect. */
  remember(key: string, declarations: Declarations): void {
    this.remembered.set(key, declarations);
  }

  /** Forgets remembered declarations (an exclusive/auto-delete queue no longer wanted). */
  forget(key: string): void {
    this.remembered.delete(key);
    this.inProgress.delete(key);
    this.done.delete(key);
  }

  /** Every item's key was declared on the open connection (kombu's `maybe_declare` cache hit). */
  allDone<T>(items: readonly T[], keyOf: (item: T) => string): boolean {
    if (!this.connection.isOpen || this.generation !== this.connection.generation) return false;
    for (const item of items) if (!this.done.has(keyOf(item))) return false;
    return true;
  }
}
