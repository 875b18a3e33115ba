/**
 * The Django example project (examples/django-migration) as a test peer: `manage.py` commands,
 * Python snippets run inside the configured project (`django.setup()` done), and its Celery
 * worker (`celery -A djproj worker`), all with the pinned Django venv
 * (python-interop/requirements/django.txt) and the project's environment variables.
 */
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChildHandle, tail } from "./process.js";
import { celeryVenvPython } from "./services.js";

export const DJANGO_EXAMPLE_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "examples",
  "django-migration",
);

export interface DjangoEnv {
  databaseUrl: string;
  brokerUrl: string;
  receiptsQueue: string;
  defaultQueue: string;
}

function processEnv(env: DjangoEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: env.databaseUrl,
    CELERY_BROKER_URL: env.brokerUrl,
    RECEIPTS_QUEUE: env.receiptsQueue,
    DEFAULT_QUEUE: env.defaultQueue,
    DJANGO_SETTINGS_MODULE: "djproj.settings",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
  };
}

async function run(
  env: DjangoEnv,
  args: string[],
  timeoutMs = 120_000,
): Promise<{ stdout: string; stderr: string }> {
  const python = await celeryVenvPython("django");
  let stdout = "";
  let stderr = "";
  const child = new ChildHandle(python, args, {
    cwd: DJANGO_EXAMPLE_DIR,
    env: processEnv(env),
    onOutput: (text, stream) => {
      if (stream === "stdout") stdout += text;
      else stderr += text;
    },
  });
  const timer = setTimeout(() => child.signal("SIGKILL"), timeoutMs);
  const exit = await child.exited;
  clearTimeout(timer);
  if (exit.code !== 0) {
    throw new Error(
      `python ${args.slice(0, 2).join(" ")} ${child.describeExit()}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`,
    );
  }
  return { stdout, stderr };
}

/** `python manage.py <args>` in the example project. */
export async function djangoManage(env: DjangoEnv, ...args: string[]): Promise<string> {
  return (await run(env, ["manage.py", ...args])).stdout;
}

/**
 * Runs `snippet` inside the project (models importable, `emit(value)` prints JSON) and returns
 * the JSON on its last stdout line.
 */
export async function djangoJson<T = unknown>(env: DjangoEnv, snippet: string): Promise<T> {
  const lines = snippet.split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^\s*/.exec(l)?.[0].length ?? 0));
  const body = lines.map((l) => l.slice(indent)).join("\n");
  const code = `import json, django\ndjango.setup()\ndef emit(value):\n    print(json.dumps(value, default=str))\n${body}`;
  const { stdout } = await run(env, ["-c", code]);
  const last = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`django snippet printed no JSON on its last line:\n${tail(stdout)}`);
  }
}

export interface DjangoWorker {
  readonly hostname: string;
  logs(): string;
  stop(): Promise<void>;
}

/** `celery -A djproj worker -Q <queues>` (solo pool, no mingle/gossip); resolves when ready. */
export async function startDjangoWorker(env: DjangoEnv, queues: readonly string[]): Promise<DjangoWorker> {
  const python = await celeryVenvPython("django");
  const hostname = `django-${randomBytes(4).toString("hex")}@localhost`;
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const child = new ChildHandle(
    join(dirname(python), "celery"),
    ["-A", "djproj", "worker", "-l", "INFO", "-n", hostname, "-Q", queues.join(","), "-P", "solo"].concat([
      "--without-mingle",
      "--without-gossip",
    ]),
    {
      cwd: DJANGO_EXAMPLE_DIR,
      env: processEnv(env),
      onOutput: (text, stream) => {
        if (stream !== "stderr") return;
        stderr += text;
        if (stderr.includes(`${hostname} ready.`)) markReady();
      },
    },
  );
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    child.exited.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 60_000).unref()),
  ]);
  if (outcome !== "ready") {
    await child.terminate("SIGKILL");
    throw new Error(`django celery worker ${hostname}: ${outcome}\n${tail(child.output())}`);
  }
  return {
    hostname,
    logs: () => child.output(),
    stop: async () => void (await child.terminate("SIGTERM", 20_000)),
  };
}

/** `celery -A djproj beat -S django` (django-celery-beat's DatabaseScheduler); stop() ends it. */
export async function startDjangoBeat(env: DjangoEnv): Promise<{ logs(): string; stop(): Promise<void> }> {
  const python = await celeryVenvPython("django");
  const child = new ChildHandle(
    join(dirname(python), "celery"),
    [
      "-A",
      "djproj",
      "beat",
      "-l",
      "INFO",
      "-S",
      "django_celery_beat.schedulers:DatabaseScheduler",
      "--max-interval",
      "1",
    ],
    { cwd: DJANGO_EXAMPLE_DIR, env: processEnv(env) },
  );
  return { logs: () => child.output(), stop: async () => void (await child.terminate("SIGTERM", 10_000)) };
}
