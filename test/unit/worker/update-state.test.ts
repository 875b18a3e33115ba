import { describe, expect, it } from "vitest";
import type { ResultBackend, ResultMetaRecord } from "../../../src/backends/backend.js";
import { compatProfile } from "../../../src/compat.js";
import { ConfigError } from "../../../src/errors.js";
import { PythonError } from "../../../src/worker/errors.js";
import { buildWorkerRequest } from "../../../src/worker/request.js";
import { updateTaskState } from "../../../src/worker/update-state.js";

const request = buildWorkerRequest(
  { lang: "py", task: "tasks.progress", id: "t1", root_id: "t1", parent_id: "p1", group: "g1", retries: 0 },
  { correlation_id: "t1", reply_to: "r1", priority: 0 },
  [[5], {}, { callbacks: null, errbacks: null, chain: null, chord: null }],
  { exchange: "", routingKey: "q", priority: 0, redelivered: false, deliveryTag: "d1", queue: "q" },
);

/** Records what update_state hands the backend; the meta shape itself is covered by protocol/result-meta tests. */
function recorder(): { backend: ResultBackend; stored: ResultMetaRecord[] } {
  const stored: ResultMetaRecord[] = [];
  const backend = {
    storeResult: async (meta: ResultMetaRecord) => {
      stored.push(meta);
    },
  } as unknown as ResultBackend;
  return { backend, stored };
}

const deps = (backend: ResultBackend | null) => ({
  backend,
  encodeResult: (v: unknown) => JSON.stringify(v),
  metaContext: () => ({ hostname: "w@h", resultExtended: true, compat: compatProfile("5.7") }),
});

describe("updateTaskState (Task.update_state -> backend.store_result)", () => {
  it("stores a custom state with its meta as is, no date_done, this request's fields", async () => {
    const { backend, stored } = recorder();
    await updateTaskState(deps(backend), request, "PROGRESS", { current: 2, total: 5 });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      task_id: "t1",
      status: "PROGRESS",
      result: { current: 2, total: 5 },
      traceback: null,
      date_done: null,
      group_id: "g1",
      parent_id: "p1",
      name: "tasks.progress",
      args: [5],
      worker: "w@h",
    });
  });

  it("meta left out is Python's None; taskId writes another id with this request's fields", async () => {
    const { backend, stored } = recorder();
    await updateTaskState(deps(backend), request, "STAGE-2", undefined, { taskId: "other" });
    expect(stored[0]).toMatchObject({
      task_id: "other",
      status: "STAGE-2",
      result: null,
      name: "tasks.progress",
    });
  });

  it("an exception given for an exception state is stored as exc info (Backend.encode_result)", async () => {
    const { backend, stored } = recorder();
    await updateTaskState(deps(backend), request, "FAILURE", new PythonError("ValueError", ["bad"]));
    expect(stored[0]?.result).toEqual({
      exc_type: "ValueError",
      exc_message: ["bad"],
      exc_module: "builtins",
    });
    expect(stored[0]?.date_done).not.toBeNull();
    await updateTaskState(deps(backend), request, "PROGRESS", new PythonError("ValueError", ["bad"]));
    expect(stored[1]?.result).toBeInstanceOf(PythonError);
  });

  it("refuses without a backend (Celery's DisabledBackend raises) and for an empty state", async () => {
    await expect(updateTaskState(deps(null), request, "PROGRESS", {})).rejects.toThrow(ConfigError);
    const { backend, stored } = recorder();
    await expect(updateTaskState(deps(backend), request, "", {})).rejects.toThrow(/non-empty string/);
    expect(stored).toHaveLength(0);
  });
});
