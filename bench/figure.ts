/**
 * The shape every benchmark figure returns, so bench/run.ts can record, compare and chart it
 * without knowing what it measured. A figure module exports `async (ctx: BenchContext) =>
 * FigureBody`; run.ts adds the machine load around it and writes the run JSON.
 */

/** One bar of a figure: a contender measured in the same run as the others. */
export interface Contender {
  name: string;
  value: number;
  unit: string;
  /** How it ran (settings, what it skips), shown under the table. */
  note?: string;
  /** Peak RSS (MB) of the contender's process tree, when it is a process of its own. */
  peakRssMb?: number;
  /** CPU ms per task of the contender's processes (a worker): steadier than rates on a busy box. */
  cpuMsPerTask?: number;
}

/** One target of issue 17 computed from this run. */
export interface Check {
  /** e.g. "Celeriac / raw LPUSH". */
  label: string;
  value: number;
  /** "ratio" prints 0.44 as "44 %", "times" as "9.12×" (under 10×) or "13.9×", "ms" and "MB" as numbers. */
  format: "ratio" | "times" | "ms" | "MB" | "points";
  /** Human form of the target, e.g. "≥ 70 %"; "reported" when the issue sets none. */
  target: string;
  /** null: reported beside a target, not a target itself. */
  met: boolean | null;
}

/** A line chart instead of the default bars (the scale curve, fairness over time). */
export interface LineChart {
  kind: "lines";
  xLabel: string;
  yLabel: string;
  /** Log-scaled x axis (backlog sizes 10 k, 100 k, 1 M). */
  logX?: boolean;
  series: { name: string; points: [number, number][] }[];
}

/** Grouped bars (latency percentiles: groups p50/p99, one bar per condition). */
export interface GroupedChart {
  kind: "grouped";
  yLabel: string;
  groups: string[];
  series: { name: string; values: number[] }[];
}

export interface FigureBody {
  /** File-name safe id: "redis-producer". */
  id: string;
  title: string;
  /** The row name in the target table: "Redis producer". */
  short: string;
  contenders: Contender[];
  checks: Check[];
  /** The counts used (tasks, rounds, ...), printed with the figure. */
  counts: Record<string, number>;
  chart?: LineChart | GroupedChart;
  /** Anything else worth keeping in the run JSON (per-round rates, per-quarter fairness). */
  detail?: Record<string, unknown>;
}

export interface Figure extends FigureBody {
  loadBefore: number[];
  loadAfter: number[];
  seconds: number;
}

export interface BenchServers {
  /** `redis://127.0.0.1:P/<db>` of the run's throwaway redis-server. */
  redisUrl(db: number): string;
  /** `amqp://guest:guest@127.0.0.1:P` of the run's throwaway RabbitMQ node. */
  amqpUrl: string;
}

export interface BenchContext {
  servers: BenchServers;
  /** `--quick`: tiny counts, every contender still run, nothing written. */
  quick: boolean;
  /** Prints a progress line (stderr, so stdout stays the report). */
  log(line: string): void;
}

/** A figure module's export; one measurement may yield several figures (worker rate and its RSS). */
export type FigureFn = (ctx: BenchContext) => Promise<FigureBody | FigureBody[]>;

/** Rounds for display: "12 345" style thousands, as RESULTS.md writes them. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "n/a";
  return n
    .toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    .replace(/,/g, " ");
}

export function formatCheck(check: Pick<Check, "value" | "format">): string {
  switch (check.format) {
    case "ratio":
      return `${fmt(100 * check.value)} %`;
    case "times":
      // Two decimals under 10×: 1.45× must not print as a "1.5×" that reads as the 1.5× target.
      return `${fmt(check.value, check.value < 10 ? 2 : 1)}×`;
    case "ms":
      return `${fmt(check.value, 2)} ms`;
    case "MB":
      return `${fmt(check.value)} MB`;
    case "points":
      return `${fmt(check.value, 1)} pts`;
  }
}
