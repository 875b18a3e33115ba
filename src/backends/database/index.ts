import type { DatabaseTableSettings } from "../../config.js";
import type { ResultBackend } from "../backend.js";
import type { ContentCodec } from "./content.js";
import { DjangoDbBackend } from "./django-db.js";
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
  /** Seconds; SQLAlchemy rows older than this are what `cleanup()` would delete (kept for parity). */
  resultExpires: number | null;
}

/** Checks the URL now (a bad one fails at app construction); the connection opens on first use. */
export function checkDatabaseBackend(settings: DatabaseBackendSettings): void {
  databaseTarget(settings.backend, settings.databaseUrl);
}

/** `django-db` or `db+postgresql://...` (celery/app/backends.py `by_url`). */
export function createDatabaseBackend(settings: DatabaseBackendSettings, codec: ContentCodec): ResultBackend {
  const target = databaseTarget(settings.backend, settings.databaseUrl);
  if (target.kind === "django-db") {
    return new DjangoDbBackend({ target, codec, resultExtended: settings.resultExtended });
  }
  return new SqlAlchemyBackend({
    target,
    codec: codec.meta,
    resultExtended: settings.resultExtended,
    tableNames: settings.databaseTableNames ?? {},
    tableSchemas: settings.databaseTableSchemas ?? {},
  });
}
