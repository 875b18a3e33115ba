import type { DjangoBeatTables, PeriodicTaskRow } from "../django-beat-tables.js";
import { PgDatabase } from "./pg.js";
import { databaseTarget } from "./url.js";

const SELECT_ENABLED = `SELECT t.id::text AS id, t.name, t.task, t.args, t.kwargs, t.queue, t.exchange, t.routing_key,
  t.headers, t.priority, t.expires, t.expire_seconds, t.one_off, t.start_time, t.enabled, t.last_run_at,
  t.total_run_count, t.date_changed, i.every, i.period, c.minute, c.hour, c.day_of_week, c.day_of_month,
  c.month_of_year, c.timezone AS cron_tz, k.clocked_time, s.event AS solar_event,
  s.latitude::float8 AS solar_lat, s.longitude::float8 AS solar_lon
  FROM django_celery_beat_periodictask t
  LEFT JOIN django_celery_beat_intervalschedule i ON i.id = t.interval_id
  LEFT JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id
  LEFT JOIN django_celery_beat_solarschedule s ON s.id = t.solar_id
  LEFT JOIN django_celery_beat_clockedschedule k ON k.id = t.clocked_id
  WHERE t.enabled`;

/** {@link DjangoBeatTables} on PostgreSQL, the database Django's `DATABASES['default']` names. */
export class PgDjangoBeatTables implements DjangoBeatTables {
  readonly maskedUrl: string;
  private readonly db: PgDatabase;

  constructor(databaseUrl: string) {
    const target = { ...databaseTarget("django-db", databaseUrl) };
    this.db = new PgDatabase(target, {
      howToCreate: "python manage.py migrate django_celery_beat (Celeriac never creates Django's tables)",
    });
    this.maskedUrl = target.masked;
  }

  async changeMarker(): Promise<number | null> {
    const rows = await this.db.query<{ last_update: Date }>(
      "read the periodic task change marker",
      "SELECT last_update FROM django_celery_beat_periodictasks WHERE ident = 1",
    );
    return rows[0] ? rows[0].last_update.getTime() : null;
  }

  enabledTasks(): Promise<PeriodicTaskRow[]> {
    return this.db.query<PeriodicTaskRow>("read periodic tasks", SELECT_ENABLED);
  }

  async recordRun(id: string, runAt: number, totalRunCount: number): Promise<void> {
    await this.db.query(
      "record a periodic task run",
      `UPDATE django_celery_beat_periodictask SET last_run_at = $2, total_run_count = $3, date_changed = now()
       WHERE id = $1::bigint`,
      [id, new Date(runAt), totalRunCount],
    );
  }

  async disable(id: string, resetCount: boolean): Promise<void> {
    await this.db.query(
      "disable a periodic task",
      `UPDATE django_celery_beat_periodictask SET enabled = false, last_run_at = NULL, date_changed = now(),
         total_run_count = CASE WHEN $2 THEN 0 ELSE total_run_count END WHERE id = $1::bigint`,
      [id, resetCount],
    );
  }

  async bumpChangeMarker(): Promise<void> {
    await this.db.query(
      "bump the periodic task change marker",
      `INSERT INTO django_celery_beat_periodictasks (ident, last_update) VALUES (1, now())
       ON CONFLICT (ident) DO UPDATE SET last_update = EXCLUDED.last_update`,
    );
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
