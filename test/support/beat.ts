/**
 * Beat processes for the beat interop tests: a real `celery beat` (Celery 5.7, or with
 * celery-redbeat 2.4 from its pinned venv) on the interop app, and `celeriac beat` on a TS app
 * module (test/support/cli-apps/beat-app.ts) configured by CELERIAC_BEAT_CONFIG. Both are
 * child processes, so a test can SIGKILL either one to play a crash.
 */
import { dirname, join } from "node:path";
import type { Redis } from "ioredis";
import { type CeleryEnvOptions, celeryEnv, INTEROP_APP_DIR } from "./celery.js";
import { CLI, REPO_ROOT } from "./cli-apps/run.js";
import { ChildHandle, waitUntil } from "./process.js";
import { celeryVenvPython } from "./services.js";

export const BEAT_APP = join(REPO_ROOT, "test", "support", "cli-apps", "beat-app.ts");

export interface BeatProcess {
  readonly child: ChildHandle;
  logs(): string;
  /** Resolves once the log has matched `pattern` (fails early, with the log, if the process died). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

function handle(child: ChildHandle): BeatProcess {
  return {
    child,
    logs: () => child.output(),
    waitFor: (pattern, timeoutMs = 30_000) =>
      waitUntil(`beat log ${pattern}`, async () => pattern.test(child.output()), {
        timeoutMs,
        intervalMs: 50,
        child,
      }),
    stop: async () => {
      await child.terminate("SIGTERM", 15_000);
    },
    kill: async () => {
      await child.terminate("SIGKILL");
    },
  };
}

export interface PythonBeatOptions extends CeleryEnvOptions {
  brokerUrl: string;
  /** `-S` (default celery.beat:PersistentScheduler). */
  scheduler?: string;
  /** `-s` for the persistent scheduler. */
  scheduleFile?: string;
  /** `--max-interval`. */
  maxInterval?: number;
  /** "5.7" (default) or "beat" (celery-redbeat 2.4 and ephem beside Celery 5.7). */
  venv?: string;
}

/** `celery -A interop_app beat` with `config` (beat_schedule, redbeat_*, timezone ...) merged into app.conf. */
export async function startPythonBeat(o: PythonBeatOptions): Promise<BeatProcess> {
  const python = await celeryVenvPython(o.venv ?? "5.7");
  const args = ["-A", "interop_app", "beat", "-l", "DEBUG"];
  if (o.scheduler) args.push("-S", o.scheduler);
  if (o.scheduleFile) args.push("-s", o.scheduleFile);
  if (o.maxInterval) args.push("--max-interval", String(o.maxInterval));
  const child = new ChildHandle(join(dirname(python), "celery"), args, {
    cwd: INTEROP_APP_DIR,
    env: celeryEnv({ ...o, celeryVersion: o.venv ?? "5.7" }),
  });
  const beat = handle(child);
  await beat.waitFor(/beat: Starting\.\.\./);
  return beat;
}

export interface TsBeatOptions {
  /** Celery options for the TS app (JSON: beatSchedule schedules as seconds or {crontab: {...}}). */
  config: Record<string, unknown>;
  /** Extra `celeriac beat` / `celeriac worker -B` flags. */
  args?: string[];
  /** "beat" (default) or "worker" (run with -B). */
  command?: "beat" | "worker";
}

/** `celeriac beat -A test/support/cli-apps/beat-app.ts` as a child process. */
export async function startTsBeat(o: TsBeatOptions): Promise<BeatProcess> {
  const command = o.command ?? "beat";
  const args = [
    CLI,
    "-A",
    BEAT_APP,
    command,
    "-l",
    "DEBUG",
    ...(command === "worker" ? ["-B"] : []),
    ...(o.args ?? []),
  ];
  const child = new ChildHandle(process.execPath, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      CELERY_BROKER_URL: "",
      CELERY_RESULT_BACKEND: "",
      CELERIAC_BEAT_CONFIG: JSON.stringify(o.config),
    },
  });
  const beat = handle(child);
  await beat.waitFor(/beat: Starting\.\.\./);
  return beat;
}

/** A task message as kombu's Redis transport stores it in a queue list. */
export interface QueuedMessage {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  body: unknown;
  "content-type": string;
  "content-encoding": string;
}

/** Every message in `queue` (oldest first), envelope decoded and the base64 JSON body parsed. */
export async function queuedMessages(redis: Redis, queue: string): Promise<QueuedMessage[]> {
  const raw = await redis.lrange(queue, 0, -1);
  return raw.reverse().map((text) => {
    const m = JSON.parse(text) as QueuedMessage & { body: string };
    return { ...m, body: JSON.parse(Buffer.from(m.body, "base64").toString("utf8")) as unknown };
  });
}
