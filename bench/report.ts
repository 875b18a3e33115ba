/**
 * What a full `npm run bench` leaves behind: the run's JSON (bench/runs/<time>.json), one SVG per
 * figure (bench/charts/), and the generated section of bench/RESULTS.md between the
 * `bench:generated` markers, built from the last two full runs. Prose outside the markers is
 * left as it is.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { ROOT, VENV } from "./common.js";
import { type Check, type Figure, fmt, formatCheck } from "./figure.js";
import { groupedBars, lines } from "./svg.js";

export const RUNS_DIR = join(ROOT, "bench", "runs");
export const CHARTS_DIR = join(ROOT, "bench", "charts");
const RESULTS = join(ROOT, "bench", "RESULTS.md");
const START = "<!-- bench:generated:start -->";
const END = "<!-- bench:generated:end -->";

export interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  redis: string;
  rabbitmq: string;
  celery: string;
  gitSha: string;
  gitDirty: boolean;
}

export interface RunRecord {
  startedAt: string;
  seconds: number;
  /** A full run: every figure ran and none failed (only these feed RESULTS.md). */
  full: boolean;
  scale: boolean;
  machine: Machine;
  figures: Figure[];
  failures: { id: string; error: string }[];
}

function tryRun(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

export function machineInfo(): Machine {
  return {
    nproc: Number(tryRun("nproc", [])),
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    redis: /v=(\S+)/.exec(tryRun("redis-server", ["--version"]))?.[1] ?? "unknown",
    rabbitmq: /^Version: (\S+)/m.exec(tryRun("dpkg", ["-s", "rabbitmq-server"]))?.[1] ?? "unknown",
    celery: tryRun(join(VENV, "python"), [
      "-c",
      "import celery, kombu; print(f'Celery {celery.__version__} / kombu {kombu.__version__}')",
    ]),
    gitSha: tryRun("git", ["rev-parse", "--short=10", "HEAD"]),
    gitDirty: tryRun("git", ["status", "--porcelain", "--untracked-files=no"]) !== "",
  };
}

export function writeRun(run: RunRecord): string {
  mkdirSync(RUNS_DIR, { recursive: true });
  const path = join(RUNS_DIR, `${run.startedAt.replace(/[:.]/g, "-")}.json`);
  writeFileSync(path, `${JSON.stringify(run, null, 2)}\n`);
  return path;
}

/** The last `n` full runs, oldest first. */
export function lastFullRuns(n: number): RunRecord[] {
  if (!existsSync(RUNS_DIR)) return [];
  return readdirSync(RUNS_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(RUNS_DIR, f), "utf8")) as RunRecord)
    .filter((r) => r.full)
    .slice(-n);
}

const runName = (r: RunRecord) => `${r.startedAt.slice(0, 16).replace("T", " ")} UTC`;
const load = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(" / ");
const verdict = (met: boolean | null) => (met === null ? "" : met ? "met" : "**not met**");

function checkOf(run: RunRecord, figureId: string, label: string): Check | undefined {
  return run.figures.find((f) => f.id === figureId)?.checks.find((c) => c.label === label);
}

/** Charts of the newest run; bar charts show every given run side by side. */
export function writeCharts(runs: readonly RunRecord[]): string[] {
  const newest = runs[runs.length - 1];
  if (!newest) return [];
  mkdirSync(CHARTS_DIR, { recursive: true });
  const written: string[] = [];
  for (const figure of newest.figures) {
    const svg = (() => {
      const chart = figure.chart;
      if (chart?.kind === "lines")
        return lines({
          title: figure.title,
          xLabel: chart.xLabel,
          yLabel: chart.yLabel,
          series: chart.series,
          logX: chart.logX === true,
        });
      if (chart?.kind === "grouped")
        return groupedBars({
          title: figure.title,
          unit: chart.yLabel,
          groups: chart.groups,
          series: chart.series,
        });
      const withFigure = runs.filter((r) => r.figures.some((f) => f.id === figure.id));
      return groupedBars({
        title: figure.title,
        unit: [...new Set(figure.contenders.map((c) => c.unit))].join(", "),
        groups: figure.contenders.map((c) => c.name),
        series: withFigure.map((r) => ({
          name: runName(r),
          values: figure.contenders.map(
            (c) =>
              r.figures.find((f) => f.id === figure.id)?.contenders.find((x) => x.name === c.name)?.value ??
              Number.NaN,
          ),
        })),
      });
    })();
    const path = join(CHARTS_DIR, `${figure.id}.svg`);
    writeFileSync(path, svg);
    written.push(path);
  }
  return written;
}

/** The generated section: the target table over the runs, then each figure's contenders. */
export function renderSection(runs: readonly RunRecord[]): string {
  const newest = runs[runs.length - 1];
  if (!newest) return "";
  const out: string[] = [
    "## Issue 17 targets, generated by `npm run bench`",
    "",
    "Everything between the `bench:generated` markers is rewritten by `npm run bench` from the last",
    "two full runs in `bench/runs/`; write prose outside them.",
    "",
  ];
  runs.forEach((r, i) => {
    const m = r.machine;
    out.push(
      `- Run ${String.fromCharCode(65 + i)}: ${runName(r)}, git ${m.gitSha}${m.gitDirty ? " (uncommitted changes)" : ""}, ` +
        `${fmt(r.seconds)} s; ${m.nproc} × ${m.cpu}, Node ${m.node}, redis-server ${m.redis}, RabbitMQ ${m.rabbitmq}, ${m.celery}.`,
    );
  });
  out.push(
    "",
    `| figure | target | ${runs.map((_, i) => `run ${String.fromCharCode(65 + i)}`).join(" | ")} |  |`,
  );
  out.push(`|---|---|${runs.map(() => "---:|").join("")}---|`);
  for (const figure of newest.figures) {
    for (const check of figure.checks) {
      const cells = runs.map((r) => {
        const c = checkOf(r, figure.id, check.label);
        return c ? `${formatCheck(c)} ${verdict(c.met)}`.trim() : "–";
      });
      const mets = runs.map((r) => checkOf(r, figure.id, check.label)?.met);
      const overall =
        check.met === null
          ? ""
          : mets.every((m) => m === true)
            ? "met"
            : mets.every((m) => m === false)
              ? "**not met**"
              : `met in ${mets.filter((m) => m === true).length} of ${runs.length}`;
      out.push(`| ${figure.short}: ${check.label} | ${check.target} | ${cells.join(" | ")} | ${overall} |`);
    }
  }
  for (const figure of newest.figures) {
    out.push("", `### ${figure.title}`, "", `![${figure.id}](charts/${figure.id}.svg)`, "");
    out.push(
      `| contender | ${runs.map((_, i) => `run ${String.fromCharCode(65 + i)}`).join(" | ")} | how it ran |`,
    );
    out.push(`|---|${runs.map(() => "---:|").join("")}---|`);
    for (const c of figure.contenders) {
      const cells = runs.map((r) => {
        const x = r.figures.find((f) => f.id === figure.id)?.contenders.find((y) => y.name === c.name);
        if (!x) return "–";
        const cpu = x.cpuMsPerTask === undefined ? "" : `, ${fmt(x.cpuMsPerTask, 3)} CPU ms/task`;
        return `${fmt(x.value, x.value < 100 ? 2 : 0)} ${x.unit}${cpu}`;
      });
      out.push(`| ${c.name} | ${cells.join(" | ")} | ${c.note ?? ""} |`);
    }
    const perRun = runs
      .map((r, i) => {
        const f = r.figures.find((x) => x.id === figure.id);
        return f
          ? `run ${String.fromCharCode(65 + i)} load ${load(f.loadBefore)} → ${load(f.loadAfter)}, ${fmt(f.seconds)} s`
          : "";
      })
      .filter(Boolean);
    const countText = Object.entries(figure.counts)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ");
    out.push("", `Counts: ${countText}. Load average (1/5/15 min) before → after: ${perRun.join("; ")}.`);
  }
  return out.join("\n");
}

/** `text` with the generated block replaced (or appended when it has none); the rest kept byte for byte. */
export function withSection(text: string, section: string): string {
  const block = `${START}\n${section}\n${END}`;
  const at = text.indexOf(START);
  const end = text.indexOf(END);
  return at !== -1 && end > at
    ? `${text.slice(0, at)}${block}${text.slice(end + END.length)}`
    : `${text.trimEnd()}\n\n${block}\n`;
}

export function updateResults(section: string): void {
  const text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  writeFileSync(RESULTS, withSection(text, section));
}
