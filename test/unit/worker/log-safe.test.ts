/**
 * Text from the wire in log lines: a task name or id holding a newline must not forge a line.
 * Celery logs an unregistered name as the repr of a KeyError; `pyStrRepr` is checked against
 * Python's own `repr()` on the same strings.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LATEST_COMPAT } from "../../../src/compat.js";
import { createLogger } from "../../../src/logging.js";
import { logSafe, pyStrRepr } from "../../../src/protocol/py-repr.js";
import type { Delivery } from "../../../src/transports/transport.js";
import { admitMessage } from "../../../src/worker/admission.js";
import { kombuBodyDecoder } from "../../../src/worker/body-codec.js";
import { requestLabel } from "../../../src/worker/request.js";
import { TaskRegistry } from "../../../src/worker/task-registry.js";

const PYTHON = fileURLToPath(new URL("../../../python-interop/.venv-5.7/bin/python", import.meta.url));

function pythonReprs(texts: string[]): string[] {
  const script = "import json, sys\nprint(json.dumps([repr(s) for s in json.load(sys.stdin)]))";
  // JSON carries lone surrogates as \\ud800 escapes, which Python's json reads back as the same code unit.
  const run = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(texts) });
  if (run.status !== 0) throw new Error(`python failed (run npm run setup): ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString()) as string[];
}

describe("pyStrRepr is Python's repr(str)", () => {
  it("on hand-picked and generated strings, as the venv's Python prints them", () => {
    const picked = [
      "a\nb",
      "it's",
      `a'b"c`,
      "\x00\x7f\x85\xa0",
      "\u2028x",
      "é中😀",
      "\ud800",
      "\u200b",
      "t\tx\\",
    ];
    // Code points up to U+07FF: assigned in every Unicode version Node's ICU and Python carry
    // (the two disagree on characters added after one of them was built).
    const unit = fc.integer({ min: 0, max: 0x7ff }).map((cp) => String.fromCodePoint(cp));
    const generated = fc.sample(fc.string({ unit, maxLength: 12 }), { numRuns: 300, seed: 42 });
    const texts = [...picked, ...generated];
    expect(texts.map(pyStrRepr)).toEqual(pythonReprs(texts));
  });

  it("logSafe is the text when Python's str.isprintable() holds, else its repr (ASCII fast path included)", () => {
    const unit = fc
      .oneof(fc.integer({ min: 0, max: 0x80 }), fc.integer({ min: 0, max: 0x7ff }))
      .map((cp) => String.fromCodePoint(cp));
    const texts = [
      " ",
      "~",
      "\x7f",
      "\x1f",
      "celery@host",
      ...fc.sample(fc.string({ unit, maxLength: 8 }), { numRuns: 300, seed: 7 }),
    ];
    const script =
      "import json, sys\nprint(json.dumps([s if s.isprintable() else repr(s) for s in json.load(sys.stdin)]))";
    const run = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(texts) });
    if (run.status !== 0) throw new Error(`python failed (run npm run setup): ${run.stderr.toString()}`);
    expect(texts.map(logSafe)).toEqual(JSON.parse(run.stdout.toString()) as string[]);
  });

  it("logSafe leaves printable text alone and reprs the rest", () => {
    expect(logSafe("proj.tasks.add")).toBe("proj.tasks.add");
    expect(logSafe("é 中")).toBe("é 中");
    expect(logSafe("x\n[2026-01-01 00:00:00,000: INFO/MainProcess] forged")).toBe(
      "'x\\n[2026-01-01 00:00:00,000: INFO/MainProcess] forged'",
    );
    expect(requestLabel({ displayName: "a\nb", id: "i\rd" })).toBe("'a\\nb'['i\\rd']");
  });
});

describe("an unregistered task name with a newline cannot forge a log line", () => {
  it("logs one line with the escaped repr, as Celery's on_unknown_task does", () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (line: string) => lines.push(line) } });
    const forged = "evil\n[2026-01-01 00:00:00,000: INFO/MainProcess] Task proj.pay[1] succeeded";
    const settled: string[] = [];
    const delivery: Delivery = {
      body: Buffer.from(JSON.stringify([[], {}, {}])),
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: { task: forged, id: "id-1", lang: "py" },
      properties: {},
      deliveryInfo: {
        exchange: "",
        routingKey: "q",
        priority: 0,
        redelivered: false,
        deliveryTag: "1",
        queue: "q",
      },
      ack: async () => void settled.push("ack"),
      reject: async (requeue) => void settled.push(`reject:${requeue}`),
    };
    const admitted = admitMessage(delivery, {
      decodeBody: kombuBodyDecoder(["json"], LATEST_COMPAT),
      registry: new TaskRegistry(),
      logger,
      hostname: "w@h",
      compat: LATEST_COMPAT,
      store: async () => undefined,
    });
    expect(admitted).toBeNull();
    expect(settled).toEqual(["reject:false"]);
    const text = lines.join("");
    expect(text.split("\n").filter((l) => l.trim() !== "")).toHaveLength(1);
    expect(text).toContain(`Received unregistered task of type ${pyStrRepr(forged)}.`);
  });
});
