#!/usr/bin/env node
// Builds the pinned Python Celery venvs used by the fixture capture and the interop tests.
//
//   import { ensureVenv } from "./scripts/venv.mjs";
//   const python = await ensureVenv("5.7", { log: console.error });
//
//   node scripts/venv.mjs 5.7 [5.2 ...]   |   node scripts/venv.mjs --all
//
// One venv per Celery minor at python-interop/.venv-<minor>, installed with
// `--require-hashes` from python-interop/requirements/celery-<minor>.txt. A stamp file in the
// venv holds the sha256 of that requirements file; when it matches, ensureVenv returns at once.
// uv is used when available (on PATH, or installed into python-interop/.venv-tools on first use)
// because it installs a Celery venv in ~2 s instead of ~10 s; plain `python3 -m venv` + pip is
// the fallback. Node built-ins only: this runs before `npm ci` has necessarily happened.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const MINORS = ["5.2", "5.3", "5.4", "5.5", "5.6", "5.7"];
// Extra pinned venvs built only on demand (never by --all): name -> requirements file stem.
// "flower" is Flower 2.0 beside the Celery 5.7 pins, for test/interop/flower-redis.test.ts.
// "django" is Django 5.2 + django-celery-results/-beat + SQLAlchemy + psycopg beside the same pins,
// for the database result backends and examples/django-migration (ephem for SolarSchedule rows).
// "beat" is celery-redbeat 2.4 and ephem beside the same pins, for the beat interop tests.
// "observe" is pydantic 2 and OpenTelemetry (SDK + opentelemetry-instrumentation-celery) beside the
// same pins, for the `celeriac stubs` and OpenTelemetry interop tests.
export const EXTRA_VENVS = { flower: "flower", django: "django", beat: "beat", observe: "observe" };
// What each extra venv must import once built (the Celery venvs check celery and kombu).
const EXTRA_IMPORT_CHECKS = {
  beat:
    "import celery, kombu, redbeat, ephem, importlib.metadata as m; " +
    'print(celery.__version__, kombu.__version__, m.version("celery-redbeat"))',
  flower: "import celery, kombu, flower; print(celery.__version__, kombu.__version__, flower.__version__)",
  observe:
    "import celery, kombu, pydantic, opentelemetry.sdk, opentelemetry.instrumentation.celery, importlib.metadata as m; " +
    'print(celery.__version__, kombu.__version__, pydantic.VERSION, m.version("opentelemetry-instrumentation-celery"))',
  django:
    "import celery, kombu, django, django_celery_results, django_celery_beat, sqlalchemy, psycopg, ephem; " +
    "print(celery.__version__, kombu.__version__, django.__version__, django_celery_results.__version__, " +
    "django_celery_beat.__version__, sqlalchemy.__version__, psycopg.__version__)",
};
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const INTEROP = join(ROOT, "python-interop");
const STAMP = ".celeriac-stamp.json";
const UV_SPEC = "uv==0.13.9";
const LOCK_STALE_MS = 10 * 60_000;

/** Path of the venv directory for one minor (whether or not it exists). */
export function venvDir(minor) {
  return join(INTEROP, `.venv-${minor}`);
}

/** Path of the venv's python for one minor (whether or not it exists). */
export function venvPython(minor) {
  return join(venvDir(minor), "bin", "python");
}

function run(cmd, args, { env, log } = {}) {
  return new Promise((resolvePromise) => {
    let child;
    try {
      child = spawn(cmd, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      resolvePromise({ code: -1, output: String(error) });
      return;
    }
    let output = "";
    const collect = (chunk) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (error) => resolvePromise({ code: -1, output: `${output}${String(error)}` }));
    child.on("close", (code) => {
      if (code !== 0 && log) log(`  ${cmd} ${args.join(" ")} exited ${code}`);
      resolvePromise({ code: code ?? -1, output });
    });
  });
}

// The machine may point pip at a local wheel folder (PIP_FIND_LINKS); hashes keep installs exact
// either way, but a fresh machine must work from PyPI alone, so do not depend on it.
function installEnv() {
  const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  delete env.PIP_REQUIRE_VIRTUALENV;
  return env;
}

async function sha256File(path) {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

async function readStamp(dir) {
  try {
    return JSON.parse(await readFile(join(dir, STAMP), "utf8"));
  } catch {
    return null;
  }
}

async function isFresh(minor, digest) {
  const stamp = await readStamp(venvDir(minor));
  return stamp !== null && stamp.requirementsSha256 === digest && existsSync(venvPython(minor));
}

// A mkdir lock: vitest's global setup and scripts/fixtures-check.mjs may build the same venv at once.
async function withLock(name, fn) {
  const lock = join(INTEROP, `.${name}.lock`);
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const info = await stat(lock).catch(() => null);
      if (info && Date.now() - info.mtimeMs > LOCK_STALE_MS) {
        await rmdir(lock).catch(() => {});
        continue;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lock).catch(() => {});
  }
}

let uvPromise = null;

/** Finds uv on PATH, or installs it into python-interop/.venv-tools; null when neither works. */
function findUv(log) {
  uvPromise ??= (async () => {
    const onPath = await run("uv", ["--version"]);
    if (onPath.code === 0) return "uv";
    const toolsDir = join(INTEROP, ".venv-tools");
    const uv = join(toolsDir, "bin", "uv");
    return withLock("venv-tools", async () => {
      if (existsSync(uv) && (await run(uv, ["--version"])).code === 0) return uv;
      log?.(`installing ${UV_SPEC} into ${toolsDir}`);
      await rm(toolsDir, { recursive: true, force: true });
      const venv = await run("python3", ["-m", "venv", toolsDir], { log });
      if (venv.code !== 0) return null;
      const pip = await run(join(toolsDir, "bin", "python"), ["-m", "pip", "install", "-q", UV_SPEC], {
        env: installEnv(),
        log,
      });
      return pip.code === 0 && existsSync(uv) ? uv : null;
    });
  })();
  return uvPromise;
}

async function buildWithUv(uv, dir, requirements, log) {
  const env = installEnv();
  const made = await run(uv, ["venv", "--quiet", "--python", "python3", dir], { env, log });
  if (made.code !== 0) return made;
  return run(
    uv,
    [
      "pip",
      "install",
      "--quiet",
      "--python",
      join(dir, "bin", "python"),
      "--require-hashes",
      "-r",
      requirements,
    ],
    { env, log },
  );
}

async function buildWithPip(dir, requirements, log) {
  const made = await run("python3", ["-m", "venv", dir], { log });
  if (made.code !== 0) {
    throw new Error(
      `python3 -m venv failed (${made.output.trim().split("\n").slice(-2).join(" ")}).\n` +
        "On Debian/Ubuntu install the venv module: apt-get install -y python3-venv (Celery venvs need Python >= 3.10).",
    );
  }
  return run(
    join(dir, "bin", "python"),
    ["-m", "pip", "install", "-q", "--require-hashes", "-r", requirements],
    { env: installEnv(), log },
  );
}

/**
 * Makes sure python-interop/.venv-<minor> holds exactly the pinned requirements and returns the
 * path of its python. Fast (one stat + one hash) when the stamp matches the requirements file.
 */
export async function ensureVenv(minor, { log } = {}) {
  const extra = Object.hasOwn(EXTRA_VENVS, minor) ? EXTRA_VENVS[minor] : null;
  if (!MINORS.includes(minor) && extra === null)
    throw new Error(
      `unknown Celery minor ${minor}; expected one of ${[...MINORS, ...Object.keys(EXTRA_VENVS)].join(", ")}`,
    );
  const requirements = join(INTEROP, "requirements", `${extra ?? `celery-${minor}`}.txt`);
  const digest = await sha256File(requirements);
  if (await isFresh(minor, digest)) return venvPython(minor);
  return withLock(`venv-${minor}`, async () => {
    if (await isFresh(minor, digest)) return venvPython(minor);
    const dir = venvDir(minor);
    const started = Date.now();
    log?.(`building ${dir} from ${requirements}`);
    await rm(dir, { recursive: true, force: true });
    const uv = await findUv(log);
    let result = uv ? await buildWithUv(uv, dir, requirements, log) : null;
    if (result?.code !== 0) {
      if (result) log?.(`uv install failed, falling back to pip:\n${result.output.slice(-2000)}`);
      await rm(dir, { recursive: true, force: true });
      result = await buildWithPip(dir, requirements, log);
    }
    if (result.code !== 0) {
      throw new Error(`installing ${requirements} into ${dir} failed:\n${result.output.slice(-4000)}`);
    }
    const check = await run(venvPython(minor), [
      "-c",
      extra !== null
        ? EXTRA_IMPORT_CHECKS[extra]
        : "import celery, kombu; print(celery.__version__, kombu.__version__)",
    ]);
    if (check.code !== 0) throw new Error(`venv ${dir} was built but cannot import celery:\n${check.output}`);
    await writeFile(
      join(dir, STAMP),
      `${JSON.stringify({ requirementsSha256: digest, versions: check.output.trim(), builtWith: uv ?? "pip" })}\n`,
    );
    log?.(
      `venv ${minor} ready (celery/kombu ${check.output.trim()}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return venvPython(minor);
  });
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const args = process.argv.slice(2);
  const minors = args.includes("--all") || args.length === 0 ? MINORS : args;
  try {
    for (const minor of minors) {
      const python = await ensureVenv(minor, { log: (m) => process.stderr.write(`[venv] ${m}\n`) });
      process.stdout.write(`${python}\n`);
    }
  } catch (error) {
    process.stderr.write(`[venv] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
