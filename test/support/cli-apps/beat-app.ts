// A TS app for the beat tests: `celeriac beat -A test/support/cli-apps/beat-app.ts`.
// Settings come as JSON in CELERIAC_BEAT_CONFIG; a beatSchedule entry's `schedule` is seconds or
// {"crontab": {minute, hour, ...}} and becomes crontab(...) here.
import { Celery } from "../../../src/app.js";
import { crontab } from "../../../src/beat/index.js";
import type { CeleryOptions } from "../../../src/config.js";

const config = JSON.parse(process.env.CELERIAC_BEAT_CONFIG ?? "{}") as Record<string, unknown>;
const schedule = (config.beatSchedule ?? {}) as Record<string, Record<string, unknown>>;
for (const entry of Object.values(schedule)) {
  const s = entry.schedule as { crontab?: Record<string, string> } | number;
  if (typeof s === "object" && s.crontab) entry.schedule = crontab(s.crontab);
}

const app = new Celery(config as CeleryOptions);

/** Run by `celeriac worker -B` in the embedded-beat test: the header proves beat sent it. */
app.task("ts.beat.tick", (ctx) => ({ beat: ctx.headers.celery_beat_task === true }));

export default app;
