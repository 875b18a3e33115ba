/**
 * What a Redis-only worker loads (issue 17, memory): a worker on a redis:// broker and backend,
 * with JSON messages, runs a task end to end and never loads the other broker's client
 * (amqplib), the optional codecs (msgpack, yaml, the compression packages) or the optional
 * integrations (pg, prom-client). Each of those is a few MB of RSS in every worker process.
 *
 * The worker runs in a child process (a fresh module graph): CommonJS packages are read from
 * its `require.cache` (optional-deps.ts loads them with `require`), ES modules from a resolve
 * hook that writes every URL it resolves to a file.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { tail } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const ROOT = join(import.meta.dirname, "..", "..");
/** Loaded only by a deployment that asks for them. */
const NOT_FOR_REDIS_JSON = [
  "amqplib",
  "@msgpack/msgpack",
  "yaml",
  "@napi-rs/lzma",
  "compressjs",
  "pg",
  "prom-client",
];

function packageOf(path: string): string | null {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return m?.[1] ?? null;
}

describe("a Redis-only worker's module graph", () => {
  it("runs a task without loading amqplib, the optional codecs or the optional integrations", async () => {
    const dir = mkdtempSync(join(tmpdir(), "celeriac-modules-"));
    const esmLog = join(dir, "esm.txt");
    const hooks = join(dir, "hooks.mjs");
    writeFileSync(
      hooks,
      `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const out = await next(specifier, context);
  appendFileSync(${JSON.stringify(esmLog)}, out.url + "\\n");
  return out;
}
`,
    );
    const register = join(dir, "register.mjs");
    writeFileSync(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const { url } = await allocateRedisDb();
    const queue = uniqueQueue("modules");
    const script = `
import Module from "node:module";
import { Celery } from ${JSON.stringify(join(ROOT, "src", "app.ts"))};
const app = new Celery({ broker: ${JSON.stringify(url)}, backend: ${JSON.stringify(url)} });
app.task("modules.add", (_ctx, x, y) => x + y);
const worker = app.worker({ queues: [${JSON.stringify(queue)}], handleSignals: false, withoutMingle: true });
await worker.start();
const result = await app.sendTask("modules.add", [2, 3], {}, { queue: ${JSON.stringify(queue)} });
const value = await result.get({ timeoutMs: 20000 });
await worker.close();
await app.close();
process.stdout.write(JSON.stringify({ value, cjs: Object.keys(Module._cache) }) + "\\n");
`;
    const scriptPath = join(dir, "worker.mts");
    writeFileSync(scriptPath, script);
    const child = spawn(process.execPath, ["--import", "tsx", "--import", register, scriptPath], {
      cwd: ROOT,
      env: { ...process.env, CELERIAC_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(status, `worker script failed:\n${tail(err)}`).toBe(0);
    const report = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { value: number; cjs: string[] };
    expect(report.value).toBe(5);
    const esm = readFileSync(esmLog, "utf8").split("\n").filter(Boolean);
    const loaded = new Set([...report.cjs, ...esm].map(packageOf).filter((p): p is string => p !== null));
    // The worker did load its Redis client: the check sees what a run loads.
    expect(loaded.has("ioredis")).toBe(true);
    expect(NOT_FOR_REDIS_JSON.filter((name) => loaded.has(name))).toEqual([]);
  }, 60_000);
});
