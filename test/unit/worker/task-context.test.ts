/**
 * src/worker/task-context.ts: the context an in-process handler receives. `signal` is an own
 * enumerable property read through a getter (its controller is built only when read), and every
 * context has the same hidden class (a per-context getter gave each its own, a V8 map per task).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { workerTaskContext } from "../../../src/worker/task-context.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

const noActions = {
  retry: () => {
    throw new Error("retry");
  },
  replace: () => {
    throw new Error("replace");
  },
  addToChord: () => Promise.reject(new Error("addToChord")),
  updateState: () => Promise.resolve(),
};

describe("workerTaskContext", () => {
  it("reads signal from its own source only when asked, and lists it among the fields", () => {
    let built = 0;
    const controllers = [new AbortController(), new AbortController()];
    const contexts = controllers.map((controller, i) =>
      workerTaskContext(
        { id: `t${i}`, name: "n" },
        () => {
          built++;
          return controller.signal;
        },
        noActions,
      ),
    );
    expect(built).toBe(0);
    expect(contexts[1]?.signal).toBe(controllers[1]?.signal);
    expect(contexts[0]?.signal).toBe(controllers[0]?.signal);
    expect(built).toBe(2);
    expect(Object.keys(contexts[0] ?? {})).toEqual([
      "id",
      "name",
      "signal",
      "retry",
      "replace",
      "addToChord",
      "updateState",
    ]);
    const spread = { ...contexts[0] };
    expect(spread.signal).toBe(controllers[0]?.signal);
    expect(Object.getOwnPropertySymbols(spread)).toEqual([]);
  });

  it("gives every context the same hidden class (V8's %HaveSameMap in a fresh process)", () => {
    const script = `
import { workerTaskContext } from ${JSON.stringify(join(ROOT, "src", "worker", "task-context.ts"))};
const actions = { retry() {}, replace() {}, addToChord() {}, updateState() {} };
const make = (id) => {
  const controller = new AbortController();
  return workerTaskContext({ id, name: "n" }, () => controller.signal, actions);
};
const a = make("a"), b = make("b");
process.stdout.write(String(%HaveSameMap(a, b)));
`;
    const out = execFileSync(
      process.execPath,
      ["--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(out).toBe("true");
  });
});
