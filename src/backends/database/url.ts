import { ConfigError } from "../../errors.js";

/**
 * Which database result backend a `backend` setting names, and where its PostgreSQL is.
 *
 * - `django-db` (django-celery-results 2.6 `DatabaseBackend`): Django reads its connection from
 *   `DATABASES`; Celeriac takes the same database as a URL in `databaseUrl`
 *   (`postgresql://user:pass@host:port/dbname`, the form dj-database-url reads).
 * - `db+postgresql://...` / `db+postgresql+psycopg://...` / `db+postgresql+psycopg2://...`
 *   (celery/backends/database `DatabaseBackend`, SQLAlchemy URLs after the `db+` prefix that
 *   celery/app/backends.py `by_url` strips); `databaseUrl` (Celery's `database_url`) wins when set.
 */
export type DatabaseBackendKind = "django-db" | "sqlalchemy";

export interface DatabaseTarget {
  kind: DatabaseBackendKind;
  /** A libpq URL `pg` accepts: `postgresql://user:pass@host:port/db?...`. */
  connectionString: string;
  /** The same URL with the password replaced by `***`, for messages and logs. */
  masked: string;
}

/** `scheme://user:secret@host` -> `scheme://user:***@host` (anything after `:` in the userinfo). */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z0-9+.-]+:\/\/[^:@/]*):[^@/]*@/i, "$1:***@");
}

const SQLALCHEMY_DRIVERS = new Set(["", "psycopg", "psycopg2", "pg8000", "asyncpg", "psycopg2cffi"]);

/** Whether `backend` names one of the database result backends. */
export function isDatabaseBackend(backend: string): boolean {
  return backend === "django-db" || /^db\+/i.test(backend);
}

/** A PostgreSQL URL for `pg`: SQLAlchemy's `postgresql+driver://` becomes `postgresql://`. */
function postgresUrl(option: string, given: string): string {
  const url = given.replace(/^(postgres(?:ql)?)\+[a-z0-9_]+:\/\//i, "$1://");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      option,
      `${option} ${JSON.stringify(maskUrl(url))} is not a URL; expected postgresql://user:password@host:port/dbname`,
    );
  }
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  if (scheme !== "postgresql" && scheme !== "postgres") {
    throw new ConfigError(
      option,
      `${option} ${JSON.stringify(maskUrl(url))}: only PostgreSQL is supported (postgresql://user:password@host:port/dbname)`,
    );
  }
  if (parsed.pathname === "" || parsed.pathname === "/") {
    throw new ConfigError(option, `${option} ${JSON.stringify(maskUrl(url))} names no database (…/dbname)`);
  }
  return url;
}

/** Parses the backend setting (and `databaseUrl`); throws a ConfigError naming the option. */
export function databaseTarget(backend: string, databaseUrl: string | null): DatabaseTarget {
  if (backend === "django-db") {
    if (databaseUrl === null) {
      throw new ConfigError(
        "databaseUrl",
        "backend django-db needs databaseUrl: the URL of the PostgreSQL database in Django's DATABASES " +
          "(postgresql://user:password@host:port/dbname)",
      );
    }
    const connectionString = postgresUrl("databaseUrl", databaseUrl);
    return { kind: "django-db", connectionString, masked: maskUrl(connectionString) };
  }
  const match = /^db\+([a-z0-9]+)(?:\+([a-z0-9_]+))?(:\/\/.*)$/i.exec(backend);
  if (!match) {
    throw new ConfigError(
      "backend",
      `backend ${JSON.stringify(maskUrl(backend))} is not a database URL; expected db+postgresql://user:password@host:port/dbname or django-db`,
    );
  }
  const dialect = (match[1] ?? "").toLowerCase();
  const driver = (match[2] ?? "").toLowerCase();
  if ((dialect !== "postgresql" && dialect !== "postgres") || !SQLALCHEMY_DRIVERS.has(driver)) {
    throw new ConfigError(
      "backend",
      `backend ${JSON.stringify(maskUrl(backend))}: only PostgreSQL is supported (db+postgresql://, db+postgresql+psycopg://, db+postgresql+psycopg2://)`,
    );
  }
  const url = databaseUrl ?? `postgresql${match[3]}`;
  const connectionString = postgresUrl(databaseUrl === null ? "backend" : "databaseUrl", url);
  return { kind: "sqlalchemy", connectionString, masked: maskUrl(connectionString) };
}
