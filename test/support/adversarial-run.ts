/**
 * One adversarial run (issue 11 item 9): a TS worker (acksLate, the app's default budget) on a
 * real broker; python-interop/app/adversarial_producer.py sends generated bad messages mixed
 * with good tasks from a stock Celery 5.7 producer, then reads every good task's result with
 * `AsyncResult.get()`. The caller asserts on what this returns.
 */
import { join } from "node:path";
import { Celery } from "../../src/app.js";
import { createLogger } from "../../src/logging.js";
import { createWorker } from "../../src/worker/app-hooks.js";
import type { Worker } from "../../src/worker/worker.js";
import { adversarialPlan, kindCounts, REASON_LINE, type Step } from "./adversarial.js";
import { INTEROP_APP_DIR, runPython } from "./celery.js";

export interface AdversarialOutcome {
  app: Celery;
  worker: Worker;
  steps: Step[];
  bad: Step[];
  goods: number;
  results: Array<{ id: string; ok: boolean; got: string }>;
  lines: string[];
  reasonLines: string[];
  /** Lines that mean the worker itself broke (an uncaught error, a crash). */
  brokenLines: string[];
  kinds: Record<string, number>;
  close(): Promise<void>;
}

/** Kinds a worker may also run (Celery tolerates them too); every other bad kind must be refused. */
const TOLERATED = new Set(["bad-header-values"]);

export function mustBeRefused(step: Step): boolean {
  return step.kind !== "good" && !step.kind.endsWith("(good)") && !TOLERATED.has(step.kind);
}

export async function runAdversarial(options: {
  transport: "redis" | "amqp";
  broker: string;
  backend: string;
  queue: string;
  bad: number;
  good: number;
  seed: number;
  deepHeaderLevels?: number[];
}): Promise<AdversarialOutcome> {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", destination: { write: (line: string) => lines.push(line) } });
  const app = new Celery({
    broker: options.broker,
    backend: options.backend,
    acceptContent: ["json", "msgpack", "yaml"],
    taskAcksLate: true,
  });
  app.task("ts.echo", (_ctx, ...args: unknown[]) => args);
  const worker = createWorker(
    {
      settings: app.settings,
      registry: app.registry,
      transport: app.transport,
      backend: app.backend,
      logger,
    },
    { queues: [options.queue], concurrency: 4, hostname: `adversarial-${options.transport}@test` },
  );
  await worker.start();
  const plan = adversarialPlan(options.transport, options.queue, options);
  const run = await runPython(join(INTEROP_APP_DIR, "adversarial_producer.py"), {
    brokerUrl: options.broker,
    backendUrl: options.backend,
    input: JSON.stringify(plan),
    timeoutMs: 180_000,
  });
  const last = run.stdout.trim().split("\n").at(-1) ?? "";
  let results: AdversarialOutcome["results"];
  try {
    results = (JSON.parse(last) as { results: AdversarialOutcome["results"] }).results;
  } catch {
    throw new Error(`adversarial producer failed (code ${run.code}):\n${run.stderr.slice(-3000)}`);
  }
  const bad = plan.steps.filter((s) => s.kind !== "good" && !s.kind.endsWith("(good)"));
  return {
    app,
    worker,
    steps: plan.steps,
    bad,
    goods: plan.steps.length - bad.length,
    results,
    lines,
    get reasonLines() {
      return lines.filter((l) => REASON_LINE.test(l));
    },
    get brokenLines() {
      // A refusal may quote the error it refused on; anything else naming one is the worker breaking.
      return lines.filter(
        (l) => !REASON_LINE.test(l) && /uncaught|unhandled|RangeError|Maximum call stack|TypeError/i.test(l),
      );
    },
    kinds: kindCounts(plan.steps),
    close: async () => {
      await worker.close({ timeoutMs: 5_000 });
      await app.close();
    },
  };
}

/** The figures the lead reports: messages tried, kinds, lost. */
export function report(transport: string, outcome: AdversarialOutcome, lost: number, ms: number): string {
  const kinds = Object.entries(outcome.kinds)
    .map(([k, n]) => `${k}=${n}`)
    .join(", ");
  return (
    `[adversarial ${transport}] messages tried: ${outcome.steps.length} (${outcome.bad.length} bad, ` +
    `${outcome.goods} good from Python); kinds: ${Object.keys(outcome.kinds).length} (${kinds}); ` +
    `refused with a logged reason: ${outcome.reasonLines.length}; lost = ${lost}; ${Math.round(ms / 1000)} s`
  );
}
