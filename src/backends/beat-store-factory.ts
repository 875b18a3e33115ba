import type { Settings } from "../config.js";
import { PgDjangoBeatTables } from "./database/django-beat-pg.js";
import type { DjangoBeatTables } from "./django-beat-tables.js";
import type { RedBeatStore } from "./redbeat-store.js";
import { RedisRedBeatStore } from "./redis-redbeat-store.js";

/**
 * Where beat's schedulers keep their schedule when it lives in a server: the
 * concrete stores behind the {@link RedBeatStore} and {@link DjangoBeatTables}
 * interfaces, so beat/ names no client library.
 */

/** A RedBeat store on `url` (`redbeat_redis_url`, else the broker URL); it connects on first use. */
export function createRedBeatStore(url: string, useSsl: Settings["brokerUseSsl"]): RedBeatStore {
  return new RedisRedBeatStore(url, useSsl);
}

/** django-celery-beat's tables in Django's `DATABASES['default']` (`databaseUrl`); connects on first use. */
export function createDjangoBeatTables(databaseUrl: string): DjangoBeatTables {
  return new PgDjangoBeatTables(databaseUrl);
}
