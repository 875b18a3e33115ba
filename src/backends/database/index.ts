import type { DatabaseTableSettings } from "../../config-values.js";
import type { ResultBackend } from "../backend.js";
import type { ContentCodec } from "./content.js";
import { DjangoDbBackend } from "./django-db.js";
import { type DatabaseRetryPolicy, NO_RETRY } from "./pg.js";
import { SqlAlchemyBackend } from "./sqlalchemy.js";
import { databaseTarget } from "./url.js";

export { isDatabaseBackend, maskUrl } from "./url.js";

/** What the database backends read from the app's settings. */
export interface DatabaseBackendSettings {
  backend: string;
  databaseUrl: string | null;
  databaseTableNames: DatabaseTableSettings | null;
  databaseTableSchemas: DatabaseTableSettings | null;
  resultExtended: boolean;
  resultBackendAlwaysRetry: boolean | null;
  resultBackendMaxRetries: number | null;
  resultBackendBaseSleepBetweenRetriesMs: number;
  resultBackendMaxSleepBetweenRetriesMs: number;
}

/**
 * `_ensure_retryable`'s policy: Celery's SQLAlchemy DatabaseBackend turns retries on with 3 tries
 * unless the settings say otherwise; django-celery-results keeps Celery's defaults (no retry unless
 * `result_backend_always_retry`, then `result_backend_max_retries`, unlimited by default).
 */
function retryPolicy(s: DatabaseBackendSettings, kind: "django-db" | "sqlalchemy"): DatabaseRetryPolicy {
  const always = s.resultBackendAlwaysRetry ?? kind === "sqlalchemy";
  if (!always) return NO_RETRY;
  return {
    maxRetries: s.resultBackendMaxRetries ?? (kind === "sqlalchemy" ? 3 : Number.POSITIVE_INFINITY),
    baseSleepMs: s.resultBackendBaseSleepBetweenRetriesMs,
    maxSleepMs: s.resultBackendMaxSleepBetweenRetriesMs,
  };
}

/** Checks the URL now (a bad one fails at app construction); the connection opens on first use. */
export function checkDatabaseBackend(settings: DatabaseBackendSettings): void {
  databaseTarget(settings.backend, settings.databaseUrl);
}

/** `django-db` or `db+postgresql://...` (celery/app/backends.py `by_url`). */
export function createDatabaseBackend(settings: DatabaseBackendSettings, codec: ContentCodec): ResultBackend {
  const target = databaseTarget(settings.backend, settings.databaseUrl);
  if (target.kind === "django-db") {
    return new DjangoDbBackend({
      target,
      codec,
      resultExtended: settings.resultExtended,
      retry: retryPolicy(settings, "django-db"),
    });
  }
  return new SqlAlchemyBackend({
    target,
    codec: codec.meta,
    resultExtended: settings.resultExtended,
    tableNames: settings.databaseTableNames ?? {},
    tableSchemas: settings.databaseTableSchemas ?? {},
    retry: retryPolicy(settings, "sqlalchemy"),
  });
}
