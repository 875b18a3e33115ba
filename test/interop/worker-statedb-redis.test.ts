import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson, runCeleryCli } from "../support/celery.js";
import { makeTempDir } from "../support/ports.js";
import { allocateRedisDb, uniqueName, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
const apps: Celery[] = [];
const workers: Worker[] = [];
const ran: string[] = [];

function celeryCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return runCeleryCli(broker, args);
}

async function cliJson(args: string[]): Promise<unknown> {
  const r = await celeryCli(args);
  expect(r.code, r.out).toBe(0);
  return JSON.parse(r.out.trim());
}

/**
 * A TS worker on its own app. `withBackend: false` for the worker that takes the revoke: without
 * a result backend its revoke writes no REVOKED meta (celery/worker/control.py `_revoke`), so the
 * REVOKED state read later can only come from the second worker discarding the message.
 */
async function startWorker(options: {
  hostname: string;
  queue: string;
  statedb?: string;
  withBackend: boolean;
}): Promise<Worker> {
  const app = new Celery(options.withBackend ? { broker, backend } : { broker });
  apps.push(app);
  app.task("ts.add", (ctx, a: number, b: number) => {
    ran.push(ctx.id);
    return a + b;
  });
  const worker = app.worker({
    queues: [options.queue],
    hostname: options.hostname,
    withoutMingle: true,
    ...(options.statedb !== undefined ? { statedb: options.statedb } : {}),
  });
  workers.push(worker);
  await worker.start();
  return worker;
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
}, 60_000);

afterAll(async () => {
  for (const w of workers) await w.close({ timeoutMs: 2000 });
  for (const a of apps) await a.close();
});

describe("statedb: revoked ids survive a TS worker restart (Redis)", () => {
  it("a new worker on the same state file discards the revoked id; one without it does not know it", async () => {
    const statedb = join(makeTempDir("statedb"), "worker.state");
    const queue = uniqueQueue("tsstate");
    const id = uniqueName("revoked");
    const first = `tsstate-a-${process.pid}@localhost`;
    const second = `tsstate-b-${process.pid}@localhost`;
    const stranger = `tsstate-c-${process.pid}@localhost`;

    const a = await startWorker({ hostname: first, queue, statedb, withBackend: false });
    expect(await cliJson(["control", "revoke", id, "-d", first, "-j"])).toEqual([
      { [first]: { ok: `tasks {'${id}'} flagged as revoked` } },
    ]);
    await a.close({ timeoutMs: 2000 });
    expect(existsSync(statedb)).toBe(true);
    expect(readFileSync(statedb, "utf8")).toContain(id);

    await startWorker({ hostname: second, queue, statedb, withBackend: true });
    await startWorker({ hostname: stranger, queue: uniqueQueue("tsstate-c"), withBackend: true });
    const revoked = (await cliJson(["inspect", "revoked", "-d", `${second},${stranger}`, "-j"])) as Record<
      string,
      string[]
    >;
    expect(revoked[second]).toContain(id);
    expect(revoked[stranger]).not.toContain(id);

    const out = await pythonJson<{ state: string; error: string }>(
      `
from interop_app import app, emit
r = app.send_task("ts.add", (1, 2), queue=${JSON.stringify(queue)}, task_id=${JSON.stringify(id)})
try:
    r.get(timeout=20)
    error = "none"
except Exception as exc:
    error = type(exc).__name__ + ": " + str(exc)
emit({"state": r.state, "error": error})
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    expect(out).toEqual({ state: "REVOKED", error: "TaskRevokedError: revoked" });
    expect(ran).not.toContain(id);
  }, 60_000);
});
