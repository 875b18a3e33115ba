/**
 * Every error rebuilt from a stored FAILURE or REVOKED result carries the same fields, whatever
 * its class (issue 14 item 5): taskId, excType, excModule, excMessage and traceback. Each is
 * compared with what Python's own `AsyncResult` reads from the same stored result: the class
 * name and module Celery rebuilt, its args, and `AsyncResult.traceback`. The failures are
 * produced by a real Celery 5.7 worker (prefork, so the hard time limit is enforced).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import {
  NotRegisteredError,
  RemoteTaskError,
  type StoredFailure,
  TaskRevokedError,
} from "../../src/errors.js";
import type { SendTaskOptions } from "../../src/index.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let worker: CeleryWorker;
let app: Celery;
const queue = uniqueQueue("stored");

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  worker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [queue],
    pool: "prefork",
    concurrency: 1,
  });
  app = new Celery({ broker, backend, taskDefaultQueue: queue });
});

afterAll(async () => {
  await app?.close();
  await worker?.stop();
});

/** What Python's AsyncResult makes of the stored result: the same five fields. */
async function pythonView(id: string): Promise<StoredFailure> {
  return pythonJson<StoredFailure>(
    `
    from interop_app import app, emit
    r = app.AsyncResult(${JSON.stringify(id)})
    r.get(timeout=20, propagate=False)
    exc = r.result
    emit({"taskId": r.id, "excType": type(exc).__name__, "excModule": type(exc).__module__,
          "excMessage": list(exc.args), "traceback": r.traceback})
    `,
    { brokerUrl: broker, backendUrl: backend },
  );
}

async function failureOf(name: string, args: unknown[], options: SendTaskOptions = {}) {
  const result = await app.sendTask(name, args, {}, options);
  const err = await result.get({ timeout: 20_000 }).catch((e: unknown) => e);
  const e = err as StoredFailure;
  const fields = {
    taskId: e.taskId,
    excType: e.excType,
    excModule: e.excModule,
    excMessage: e.excMessage,
    traceback: e.traceback,
  };
  return { err, fields, python: await pythonView(result.id), id: result.id };
}

describe("errors rebuilt from a stored result carry taskId, excType, excModule, excMessage, traceback", () => {
  it("NotRegisteredError (an unknown task name)", async () => {
    const { err, fields, python, id } = await failureOf("interop.no_such_task", [1]);
    expect(err).toBeInstanceOf(NotRegisteredError);
    expect((err as NotRegisteredError).taskName).toBe("interop.no_such_task");
    expect(fields).toEqual(python);
    expect(python).toMatchObject({ taskId: id, excType: "NotRegistered", excModule: "celery.exceptions" });
  });

  it("TaskRevokedError (expired before it reached the worker)", async () => {
    const { err, fields, python, id } = await failureOf("interop.add", [1, 2], {
      expires: new Date(Date.now() - 60_000),
    });
    expect(err).toBeInstanceOf(TaskRevokedError);
    expect(fields).toEqual(python);
    expect(python).toMatchObject({ taskId: id, excType: "TaskRevokedError", excMessage: ["expired"] });
  });

  it("a hard time limit (billiard's TimeLimitExceeded)", async () => {
    const { err, fields, python } = await failureOf("interop.time_limited", [30], { timeLimit: 1 });
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(fields).toEqual(python);
    expect(python).toMatchObject({ excType: "TimeLimitExceeded", excModule: "billiard.exceptions" });
  });

  it("RemoteTaskError (a builtin exception with a traceback)", async () => {
    const { err, fields, python } = await failureOf("interop.fail", ["ValueError", "bad", 7]);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(fields).toEqual(python);
    expect(python.traceback).toMatch(/ValueError/);
  });
});
