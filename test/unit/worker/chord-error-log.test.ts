/**
 * The `Chord %r raised: %r` line (celery/app/builtins.py `unlock_chord`, 5.7) is built with
 * saferepr and escaped: a group id from the wire holding a newline stays on one log line, and the
 * ChordError is still stored on the body.
 */
import { describe, expect, it } from "vitest";
import type { ResultBackend, ResultMetaRecord } from "../../../src/backends/backend.js";
import { unlockChord } from "../../../src/worker/chord-unlock.js";
import type { ContinuationDeps } from "../../../src/worker/continuations.js";

function meta(taskId: string, status: string, result: unknown): ResultMetaRecord {
  return { status, result, traceback: null, children: null, date_done: null, task_id: taskId };
}

describe("chord_unlock's error log line", () => {
  it("is one line with the reprs of a hostile group id and the ChordError text", async () => {
    const logs: string[] = [];
    const stored: ResultMetaRecord[] = [];
    const failed = meta("part-1", "FAILURE", {
      exc_type: "ValueError",
      exc_message: ["boom\nINFO forged"],
      exc_module: "builtins",
    });
    const backend = { getMeta: async () => failed } as unknown as ResultBackend;
    const canvas = {
      publisher: {} as ContinuationDeps["publisher"],
      chordJoin: () => null,
      storeMeta: async (m: ResultMetaRecord) => {
        stored.push(m);
      },
      buildMeta: (state: string, result: unknown, _tb: string | null, taskId: string) =>
        meta(taskId, state, result),
      inheritParentPriority: false,
      log: (_level: "warn" | "error", message: string) => {
        logs.push(message);
      },
    } satisfies ContinuationDeps;
    await unlockChord(
      { backend, canvas, retryInterval: 1 },
      {
        id: "unlock-1",
        rootId: null,
        kwargs: { result: [[["part-1", null], null]] },
        retry: () => {
          throw new Error("retry not expected");
        },
      },
      "group\nCRITICAL forged",
      {
        task: "tasks.body",
        args: [],
        kwargs: {},
        options: { task_id: "body-1" },
        subtask_type: null,
        immutable: false,
      },
    );
    expect(logs).toHaveLength(1);
    expect(logs[0]).not.toContain("\n");
    // Escaped as Python's repr escapes it: a literal backslash-n, not a line break.
    expect(logs[0]).toMatch(/^Chord .*group\\nCRITICAL forged.* raised: ChordError\(.*boom\\nINFO forged/);
    expect(stored.map((m) => [m.task_id, m.status])).toEqual([["body-1", "FAILURE"]]);
  });
});
