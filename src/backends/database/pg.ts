import type { Pool, PoolClient, QueryResultRow } from "pg";
import { CeleryError, ConfigError, ConnectionLostError, DatabaseError } from "../../errors.js";
import type { DatabaseTarget } from "./url.js";

/**
 * The PostgreSQL connection of a database result backend: a small `pg` pool opened on first
 * use. `pg` is an optional peer dependency, imported here only when a database backend is
 * configured, so Redis/AMQP users never load it.
 *
 * Errors say what is wrong and where, with the password masked: an unreachable server is a
 * {@link ConnectionLostError} (recoverable); a missing table names the migration that creates it.
 */
type PgModule = typeof import("pg");

let pgModule: Promise<PgModule> | null = null;

function loadPg(): Promise<PgModule> {
  pgModule ??= import("pg").then(
    (m) => ((m as unknown as { default?: PgModule }).default ?? m) as PgModule,
    (err: unknown) => {
      pgModule = null;
      throw new ConfigError(
        "backend",
        `database result backends need the "pg" package (node-postgres): npm install pg (${String(err)})`,
      );
    },
  );
  return pgModule;
}

/** SQLSTATE classes that mean "the server is not there / went away" (class 08, 57P0x). */
function isConnectionFailure(err: { code?: unknown }): boolean {
  const code = typeof err.code === "string" ? err.code : "";
  return (
    code.startsWith("08") ||
    code.startsWith("57P0") ||
    ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"].includes(code) ||
    /Connection terminated|connection timeout|timeout expired/i.test(String((err as Error).message))
  );
}

/**
 * celery/backends/base.py `Backend._ensure_retryable` for operations that failed because the
 * server was unreachable: up to `maxRetries` more tries, sleeping
 * `get_exponential_backoff_interval(base, retries, max, full_jitter=True)` ms in between.
 */
export interface DatabaseRetryPolicy {
  maxRetries: number;
  baseSleepMs: number;
  maxSleepMs: number;
}

export const NO_RETRY: DatabaseRetryPolicy = { maxRetries: 0, baseSleepMs: 0, maxSleepMs: 0 };

function backoffMs(policy: DatabaseRetryPolicy, retries: number): number {
  const ceiling = Math.min(policy.maxSleepMs, policy.baseSleepMs * 2 ** retries);
  return Math.floor(Math.random() * (ceiling + 1));
}

export interface MissingTableHint {
  /** How the table is created (e.g. "python manage.py migrate django_celery_results"). */
  howToCreate: string;
}

export class PgDatabase {
  private pool: Pool | null = null;
  private poolPromise: Promise<Pool> | null = null;
  private closed = false;

  constructor(
    readonly target: DatabaseTarget,
    private readonly hint: MissingTableHint,
    private readonly retry: DatabaseRetryPolicy = NO_RETRY,
    private readonly poolSize = 4,
  ) {}

  /** Runs `attempt`, retrying connection failures per the retry policy. */
  private async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (let retries = 0; ; retries++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof ConnectionLostError) || retries >= this.retry.maxRetries || this.closed)
          throw err;
        const sleep = backoffMs(this.retry, retries);
        await new Promise((resolve) => setTimeout(resolve, sleep));
      }
    }
  }

  private getPool(): Promise<Pool> {
    if (this.closed) return Promise.reject(new ConfigError("backend", "the result backend is closed"));
    this.poolPromise ??= loadPg().then((pg) => {
      const pool = new pg.Pool({
        connectionString: this.target.connectionString,
        max: this.poolSize,
        connectionTimeoutMillis: 10_000,
        idleTimeoutMillis: 30_000,
        application_name: "celeriac",
      });
      // An idle client losing its server must not crash the process; the next query reconnects.
      pool.on("error", () => {});
      this.pool = pool;
      return pool;
    });
    return this.poolPromise;
  }

  /** Translates a driver error into one that names the database (masked) and what to do. */
  translate(err: unknown, what: string): Error {
    if (err instanceof CeleryError) return err;
    const e = err as { code?: unknown; message?: unknown };
    const message = typeof e.message === "string" ? e.message : String(err);
    if (isConnectionFailure(e)) {
      return new ConnectionLostError(
        `result backend database ${this.target.masked} unreachable during ${what}: ${message}`,
        { cause: err },
      );
    }
    const code = typeof e.code === "string" ? e.code : undefined;
    if (code === "42P01") {
      return new DatabaseError(
        `result backend database ${this.target.masked}: ${message} (during ${what}); create the tables first: ${this.hint.howToCreate}`,
        code,
        { cause: err },
      );
    }
    return new DatabaseError(
      `result backend database ${this.target.masked}: ${what} failed: ${message}`,
      code,
      { cause: err },
    );
  }

  async query<R extends QueryResultRow = QueryResultRow>(
    what: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    return this.retrying(async () => {
      try {
        const pool = await this.getPool();
        return (await pool.query<R>(text, values)).rows;
      } catch (err) {
        throw this.translate(err, what);
      }
    });
  }

  /** Runs `fn` in one transaction (BEGIN ... COMMIT, ROLLBACK on error). */
  transaction<T>(what: string, fn: (q: TxQuery) => Promise<T>): Promise<T> {
    return this.retrying(() => this.transactionOnce(what, fn));
  }

  private async transactionOnce<T>(what: string, fn: (q: TxQuery) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await (await this.getPool()).connect();
    } catch (err) {
      throw this.translate(err, what);
    }
    let broken = false;
    try {
      await client.query("BEGIN");
      const q: TxQuery = async (text, values = []) => (await client.query(text, values)).rows;
      const result = await fn(q);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw this.translate(err, what);
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pool = this.pool ?? (this.poolPromise ? await this.poolPromise.catch(() => null) : null);
    await pool?.end().catch(() => {});
  }
}

// biome-ignore lint/suspicious/noExplicitAny: rows are checked by the caller
export type TxQuery = (text: string, values?: unknown[]) => Promise<any[]>;
