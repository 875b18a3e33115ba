#!/usr/bin/env node
// One-command set-up for development and CI: `node scripts/setup.mjs [--all-celery]`.
//
//   1. node_modules: `npm ci` when missing or when package-lock.json changed since the last
//      install (its sha256 is stamped in node_modules/.celeriac-setup).
//   2. Test servers: redis-server, rabbitmq-server and postgresql (plus openssl for test certificates).
//      Installed with apt-get on Debian/Ubuntu when missing; elsewhere we say what to install.
//      Skipped when CELERIAC_TEST_REDIS_URL, CELERIAC_TEST_AMQP_URL and CELERIAC_TEST_POSTGRES_URL are set.
//   3. Python Celery venvs via scripts/venv.mjs: 5.7 (the default target), or all of 5.2..5.7
//      with --all-celery. Flower is deliberately not installed here.
//
// Idempotent, and well under a second when everything is already in place. Node built-ins only:
// it runs before node_modules exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STAMP = join(ROOT, "node_modules", ".celeriac-setup");
const REDIS_SERVER = "/usr/bin/redis-server";
const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const POSTGRES_ROOT = "/usr/lib/postgresql";
const APT_PACKAGES = ["redis-server", "rabbitmq-server", "postgresql", "openssl"];

const started = Date.now();
const say = (message) => process.stdout.write(`[setup] ${message}\n`);
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

class SetupError extends Error {}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", ...options });
  if (result.error) throw new SetupError(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new SetupError(`${command} ${args.join(" ")} exited with ${result.status}`);
}

/**
 * `npm ci`, with one fallback. npm ci refuses a lockfile that lacks an entry for any optional
 * platform package (e.g. @biomejs/cli-darwin-x64) even though it would not be installed on this
 * platform, and a registry mirror that does not serve those packages can only produce such a
 * lockfile. Then we install the same locked versions with `npm install` and put package-lock.json
 * back byte for byte, so the checkout stays clean.
 */
function installLockedModules(lockfile) {
  const ci = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: ROOT,
    stdio: ["inherit", "inherit", "pipe"],
    encoding: "utf8",
  });
  if (ci.error) throw new SetupError(`npm could not start: ${ci.error.message}`);
  if (ci.status === 0) return;
  const refusedLockfile = /can only install packages when your package\.json and package-lock\.json/.test(
    ci.stderr,
  );
  if (!refusedLockfile) {
    process.stderr.write(ci.stderr);
    throw new SetupError(`npm ci exited with ${ci.status}`);
  }
  const missing = ci.stderr.match(/Missing: \S+/g) ?? [];
  say(`node_modules: npm ci refused the lockfile (${missing.length} optional platform entries missing);`);
  say("node_modules: installing the locked versions with npm install, then restoring package-lock.json");
  const original = readFileSync(lockfile);
  try {
    run("npm", ["install", "--no-audit", "--no-fund"]);
  } finally {
    writeFileSync(lockfile, original);
  }
}

function ensureNodeModules() {
  const since = Date.now();
  const lockfile = join(ROOT, "package-lock.json");
  const digest = createHash("sha256").update(readFileSync(lockfile)).digest("hex");
  const stamped = existsSync(STAMP) ? readFileSync(STAMP, "utf8").trim() : "";
  if (stamped === digest && existsSync(join(ROOT, "node_modules"))) {
    say(`node_modules: up to date (lockfile ${digest.slice(0, 12)})`);
    return;
  }
  const why = existsSync(join(ROOT, "node_modules")) ? "package-lock.json changed" : "node_modules missing";
  say(`node_modules: ${why}, running npm ci`);
  installLockedModules(lockfile);
  writeFileSync(STAMP, `${digest}\n`);
  say(`node_modules: installed in ${seconds(since)}`);
}

function isDebianLike() {
  if (existsSync("/etc/debian_version")) return true;
  try {
    const osRelease = readFileSync("/etc/os-release", "utf8");
    return /^ID(_LIKE)?=.*\b(debian|ubuntu)\b/m.test(osRelease);
  } catch {
    return false;
  }
}

function onPath(binary) {
  return spawnSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" }).status === 0;
}

/** Debian's postgresql package puts the server under /usr/lib/postgresql/<major>/bin. */
function hasPostgresServer() {
  if (process.env.CELERIAC_POSTGRES_BIN_DIR)
    return existsSync(join(process.env.CELERIAC_POSTGRES_BIN_DIR, "postgres"));
  if (!existsSync(POSTGRES_ROOT)) return false;
  return readdirSync(POSTGRES_ROOT).some((major) =>
    existsSync(join(POSTGRES_ROOT, major, "bin", "postgres")),
  );
}

function ensureServers() {
  const given = process.env;
  if (given.CELERIAC_TEST_REDIS_URL && given.CELERIAC_TEST_AMQP_URL && given.CELERIAC_TEST_POSTGRES_URL) {
    say("servers: using CELERIAC_TEST_{REDIS,AMQP,POSTGRES}_URL; not checking local binaries");
    return;
  }
  const missing = [];
  if (!existsSync(REDIS_SERVER)) missing.push(REDIS_SERVER);
  if (!existsSync(RABBITMQ_SERVER)) missing.push(RABBITMQ_SERVER);
  if (!hasPostgresServer()) missing.push(`${POSTGRES_ROOT}/<major>/bin/postgres`);
  if (!onPath("openssl")) missing.push("openssl");
  if (missing.length === 0) {
    say("servers: redis-server, rabbitmq-server, postgresql and openssl present");
    return;
  }
  say(`servers: missing ${missing.join(", ")}`);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const canSudo =
    !isRoot && onPath("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
  if (!isDebianLike() || (!isRoot && !canSudo)) {
    throw new SetupError(
      `Missing ${missing.join(", ")}. Install Redis 7+ (redis-server), RabbitMQ 3.10+ (rabbitmq-server), ` +
        "PostgreSQL 13+ (postgresql) and openssl with your package manager (on Debian/Ubuntu: sudo apt-get " +
        "install -y redis-server rabbitmq-server postgresql openssl), or point the tests at running servers with " +
        "CELERIAC_TEST_REDIS_URL=redis://host:port, CELERIAC_TEST_AMQP_URL=amqp://user:pass@host:port and " +
        "CELERIAC_TEST_POSTGRES_URL=postgresql://user:pass@host:port/postgres.",
    );
  }
  const since = Date.now();
  const prefix = isRoot ? [] : ["sudo", "-n"];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args) => {
    const [command, ...rest] = [...prefix, "apt-get", ...args];
    run(command, rest, { env });
  };
  // Tests start their own throwaway servers on free ports; the packaged services would only take
  // memory and the default ports. A policy-rc.d that exits 101 tells the maintainer scripts not
  // to start them (Debian's invoke-rc.d convention), and is removed again if we created it.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) {
    const [command, ...rest] = [
      ...prefix,
      "sh",
      "-c",
      `printf '#!/bin/sh\\nexit 101\\n' > ${policy} && chmod 755 ${policy}`,
    ];
    run(command, rest);
  }
  try {
    say(`servers: apt-get install -y ${APT_PACKAGES.join(" ")}`);
    apt(["update", "-q"]);
    apt(["install", "-y", "-q", ...APT_PACKAGES]);
  } finally {
    if (ownPolicy) {
      const [command, ...rest] = [...prefix, "rm", "-f", policy];
      run(command, rest);
    }
  }
  const stillMissing = [REDIS_SERVER, RABBITMQ_SERVER].filter((path) => !existsSync(path));
  if (!hasPostgresServer()) stillMissing.push(`${POSTGRES_ROOT}/<major>/bin/postgres`);
  if (stillMissing.length > 0)
    throw new SetupError(`apt-get finished but ${stillMissing.join(", ")} is still missing`);
  say(`servers: installed in ${seconds(since)}`);
}

async function ensureVenvs(allCelery) {
  const since = Date.now();
  const { ensureVenv, MINORS } = await import("./venv.mjs");
  const minors = allCelery ? MINORS : ["5.7"];
  for (const minor of minors) {
    await ensureVenv(minor, { log: (message) => say(`venv ${minor}: ${message}`) });
  }
  say(`python: Celery venv${minors.length > 1 ? "s" : ""} ${minors.join(", ")} ready (${seconds(since)})`);
}

async function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== "--all-celery");
  if (unknown.length > 0)
    throw new SetupError(`unknown argument ${unknown.join(" ")}; usage: setup.mjs [--all-celery]`);
  const nodeMajor = Number(process.versions.node.split(".")[0]);
  if (nodeMajor < 20)
    throw new SetupError(`Node ${process.versions.node} is too old; Celeriac needs Node 20+`);
  ensureNodeModules();
  ensureServers();
  await ensureVenvs(args.includes("--all-celery"));
  say(`done in ${seconds(started)}`);
}

main().catch((error) => {
  process.stderr.write(`[setup] FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
