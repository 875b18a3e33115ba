/**
 * Workflows built in TS, executed by a stock Celery 5.7 worker over Redis (issue 5, item 2):
 * chain (embed.chain reversed, frozen ids, parent links), group (GroupResult, save/restore),
 * chord (set_chord_size, ordered body input), link / link_error, a chain failing in the middle,
 * and the chain(group, task) -> chord upgrade.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, chord, group, s, si, signature } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import { AsyncResult, GroupResult } from "../../src/client/result.js";
import { RemoteTaskError } from "../../src/errors.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let worker: CeleryWorker;
let app: Celery;
let redis: Redis;
const queue = uniqueQueue("canvas");
const T = { timeout: 30_000 };

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  worker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [queue],
    defaultQueue: queue,
  });
  app = new Celery({ broker, backend, taskDefaultQueue: queue });
  redis = new Redis(backend);
});

afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await worker?.stop();
});

describe("TS-built workflows run by a Python 5.7 worker", () => {
  it("chain: ((1+2)+3)*4 with parent links back to the first step", async () => {
    const res = await applyAsync(
      app,
      chain(s("interop.add", 1, 2), s("interop.add", 3), s("interop.mul", 4)),
    );
    expect(res).toBeInstanceOf(AsyncResult);
    expect(await res.get(T)).toBe(24);
    const middle = res.parent as AsyncResult;
    const first = middle.parent as AsyncResult;
    expect(await middle.get(T)).toBe(6);
    expect(await first.get(T)).toBe(3);
    expect(first.parent).toBeNull();
    // Python recorded each next step as a child of the one before it, and the parent ids.
    expect((await first.meta()).children).toEqual([[[middle.id, null], null]]);
    expect((await res.meta()).parentId).toBe(middle.id);
  });

  it("serializes a workflow exactly as Python's Signature dict", async () => {
    const fromPython = await pythonJson<unknown>(
      `
from interop_app import app, emit, add, mul, xsum
from celery import chain, group, chord
emit([
    chain(add.s(1, 2), add.s(3), mul.si(4, 4).set(countdown=1)),
    group(add.s(3), mul.si(4, 4)),
    chord([add.s(1, 1), add.s(2, 2)], xsum.s()),
    chord(group(add.s(1, 1)), xsum.s()),
])
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    const fromTs = [
      chain(s("interop.add", 1, 2), s("interop.add", 3), si("interop.mul", 4, 4).set({ countdown: 1 })),
      group(s("interop.add", 3), si("interop.mul", 4, 4)),
      chord([s("interop.add", 1, 1), s("interop.add", 2, 2)], s("interop.xsum")),
      chord(group(s("interop.add", 1, 1)), s("interop.xsum")),
    ].map((sig) => sig.toDict());
    expect(JSON.parse(JSON.stringify(fromTs))).toEqual(fromPython);
  });

  it("gives the same result as the same chain built in Python", async () => {
    const fromPython = await pythonJson<number>(
      `
from interop_app import app, emit, add, mul
from celery import chain
emit(chain(add.s(1, 2), add.s(3), mul.s(4)).apply_async(queue=${JSON.stringify(queue)}).get(timeout=30))
`,
      { brokerUrl: broker, backendUrl: backend, defaultQueue: queue },
    );
    const fromTs = await applyAsync(
      app,
      chain(s("interop.add", 1, 2), s("interop.add", 3), s("interop.mul", 4)),
    );
    expect(await fromTs.get(T)).toBe(fromPython);
  });

  it("immutable step ignores the parent's value", async () => {
    const res = await applyAsync(
      app,
      chain(s("interop.add", 1, 1), si("interop.add", 10, 10), s("interop.mul", 3)),
    );
    expect(await res.get(T)).toBe(60);
  });

  it("group: ordered results, completedCount, save/restore through celery-taskset-meta", async () => {
    const res = await applyAsync(
      app,
      group(s("interop.add", 1, 1), s("interop.mul", 3, 3), s("interop.add", 5, 5)),
    );
    expect(res).toBeInstanceOf(GroupResult);
    expect(await res.get(T)).toEqual([2, 9, 10]);
    expect(await res.completedCount()).toBe(3);
    const metas = await Promise.all(res.results.map((r) => (r as AsyncResult).meta()));
    expect(metas.map((m) => m.groupId)).toEqual([res.id, res.id, res.id]);
    await res.save();
    // Python restores what TS saved...
    const restored = await pythonJson<number[]>(
      `
from interop_app import app, emit
from celery.result import GroupResult
g = GroupResult.restore(${JSON.stringify(res.id)}, app=app)
emit(g.get(timeout=30))
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    expect(restored).toEqual([2, 9, 10]);
    // ...and TS restores what Python saved.
    const pyGid = await pythonJson<string>(
      `
from interop_app import app, emit, add
from celery import group
r = group(add.s(i, i) for i in range(3)).apply_async(queue=${JSON.stringify(queue)})
r.save()
r.get(timeout=30)
emit(r.id)
`,
      { brokerUrl: broker, backendUrl: backend, defaultQueue: queue },
    );
    const fromPy = await GroupResult.restore<number>(pyGid, app.backend as NonNullable<typeof app.backend>);
    expect(await fromPy?.get(T)).toEqual([0, 2, 4]);
  });

  it("chord: header results in order into the body; .s written before the last header", async () => {
    const res = await applyAsync(
      app,
      chord([s("interop.add", 1, 1), s("interop.add", 2, 2), s("interop.add", 3, 3)], s("interop.xsum")),
    );
    expect(await res.get(T)).toBe(12);
    const header = res.parent as GroupResult;
    expect(header).toBeInstanceOf(GroupResult);
    expect(await header.get(T)).toEqual([2, 4, 6]);
    // The Python worker's 5.7 join cleaned up and left the done marker.
    expect(await redis.get(`celery-taskset-meta-${header.id}.c`)).toBe("done");
    expect(await redis.exists(`celery-taskset-meta-${header.id}.j`)).toBe(0);
  });

  it("chord body receives the list in header order whatever the finishing order", async () => {
    const res = await applyAsync(
      app,
      chord([s("interop.sleep", 0.3), s("interop.sleep", 0), s("interop.sleep", 0.1)], s("interop.echo")),
    );
    expect(await res.get(T)).toEqual([[[0.3, 0, 0.1]], {}]);
  });

  it("link: callback gets the result; link_error: errback gets the failed task id", async () => {
    const key = `canvas:errback:${queue}`;
    const ok = s("interop.add", 2, 2);
    ok.link(s("interop.mul", 10));
    const okRes = await applyAsync(app, ok);
    expect(await okRes.get(T)).toBe(4);
    await okRes.meta();
    const [child] = okRes.children;
    expect(child).toBeDefined();
    expect(await child?.get(T)).toBe(40);

    const bad = s("interop.fail", "KeyError", "nope");
    bad.linkError(signature("interop.record", [], { key }));
    const badRes = await applyAsync(app, bad);
    await expect(badRes.get(T)).rejects.toBeInstanceOf(RemoteTaskError);
    expect(await waitForList(key, 1)).toEqual([badRes.id]);
  });

  it("chain failing in the middle: the caller of the last step sees the failure", async () => {
    const res = await applyAsync(
      app,
      chain(s("interop.add", 1, 1), si("interop.fail", "ValueError", "mid"), s("interop.add", 1)),
    );
    const err = await res.get(T).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err).toMatchObject({ excType: "ValueError", excMessage: ["mid"] });
    expect(await res.state()).toBe("FAILURE");
  });

  it("chain(task, group, task) is upgraded to a chord, as Celery does", async () => {
    const res = await applyAsync(
      app,
      chain(s("interop.add", 1, 1), group(s("interop.add", 1), s("interop.mul", 10)), s("interop.xsum")),
    );
    // add(1,1)=2 -> [2+1, 2*10] -> 23
    expect(await res.get(T)).toBe(23);
  });
});

async function waitForList(key: string, n: number): Promise<string[]> {
  for (;;) {
    const items = await redis.lrange(key, 0, -1);
    if (items.length >= n) return items;
    await new Promise((r) => setTimeout(r, 100));
  }
}
