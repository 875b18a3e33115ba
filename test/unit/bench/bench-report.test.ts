/**
 * The pure parts of `npm run bench` (bench/): reading Celery's date_done, the per-queue fairness
 * at each quarter, the generated RESULTS.md section and its markers, the SVG writer. The
 * measuring itself runs end to end in `.ci/run` as `npm run bench -- --quick`.
 */
import { describe, expect, it } from "vitest";
import { type Done, parseDateDone } from "../../../bench/drain.js";
import { fairness } from "../../../bench/fig-queues.js";
import type { Figure } from "../../../bench/figure.js";
import { type RunRecord, renderSection, withSection } from "../../../bench/report.js";
import { groupedBars, lines } from "../../../bench/svg.js";

describe("parseDateDone", () => {
  it("keeps Celery's microseconds and reads its UTC offset, naive UTC and celery-node's Z form", () => {
    const base = Date.UTC(2026, 11, 6, 12, 0, 0);
    expect(parseDateDone("2026-12-06T12:00:00.123456+00:00")).toBeCloseTo(base + 123.456, 6);
    expect(parseDateDone("2026-12-06T13:00:00.5+01:00")).toBeCloseTo(base + 500, 6);
    expect(parseDateDone("2026-12-06T12:00:00")).toBe(base);
    expect(parseDateDone("2026-12-06T12:00:00.123Z")).toBeCloseTo(base + 123, 6);
  });

  it("rejects a date it cannot read instead of returning NaN", () => {
    expect(() => parseDateDone("yesterday")).toThrow(/unexpected date_done "yesterday"/);
  });
});

describe("fairness", () => {
  const done = (order: readonly number[]): Done[] =>
    order.map((queue, i) => ({ id: `f.${queue}.${i}`, at: i }));

  it("is 0 points apart when the queues are taken round-robin", () => {
    // 2 queues × 4 tasks: 0 1 0 1 0 1 0 1
    const quarters = fairness(done([0, 1, 0, 1, 0, 1, 0, 1]), 2, 4);
    expect(quarters.map((q) => [q.donePct, q.minPct, q.maxPct, q.spread])).toEqual([
      [25, 25, 25, 0],
      [50, 50, 50, 0],
      [75, 75, 75, 0],
    ]);
  });

  it("shows a queue drained before the other as the full spread", () => {
    const quarters = fairness(done([0, 0, 0, 0, 1, 1, 1, 1]), 2, 4);
    expect(quarters.map((q) => q.spread)).toEqual([50, 100, 50]);
  });
});

function figure(id: string, value: number, met: boolean): Figure {
  return {
    id,
    title: `Figure ${id}`,
    short: `Fig ${id}`,
    contenders: [{ name: "Celeriac | x", value, unit: "tasks/s", note: "defaults" }],
    checks: [{ label: "ratio", value: value / 100, format: "ratio", target: "≥ 70 %", met }],
    counts: { tasks: 10_000 },
    loadBefore: [1, 2, 3],
    loadAfter: [1.5, 2, 3],
    seconds: 12,
  };
}

function run(startedAt: string, value: number, met: boolean): RunRecord {
  return {
    startedAt,
    seconds: 300,
    full: true,
    scale: false,
    machine: {
      nproc: 2,
      cpu: "cpu",
      node: "v20",
      redis: "7.0.15",
      rabbitmq: "3.10.8",
      celery: "Celery 5.7.0 / kombu 5.7.0",
      gitSha: "abc",
      gitDirty: false,
    },
    figures: [figure("redis-producer", value, met)],
    failures: [],
  };
}

describe("the generated RESULTS.md section", () => {
  it("puts both runs side by side and says met only when both met", () => {
    const text = renderSection([
      run("2026-12-06T14:45:00.000Z", 80, true),
      run("2026-12-06T14:50:00.000Z", 60, false),
    ]);
    expect(text).toContain(
      "| Fig redis-producer: ratio | ≥ 70 % | 80 % met | 60 % **not met** | met in 1 of 2 |",
    );
    expect(text).toContain("![redis-producer](charts/redis-producer.svg)");
    expect(text).toContain("| Celeriac | x | 80.00 tasks/s | 60.00 tasks/s | defaults |");
    expect(text).toContain("run A load 1.0 / 2.0 / 3.0 → 1.5 / 2.0 / 3.0, 12 s");
    const both = renderSection([
      run("2026-12-06T14:45:00.000Z", 80, true),
      run("2026-12-06T14:50:00.000Z", 90, true),
    ]);
    expect(both).toMatch(/\| 80 % met \| 90 % met \| met \|$/m);
  });

  it("replaces only what is between the markers, and appends the block when there is none", () => {
    const prose = "# Benchmark results\n\nhand-written\n";
    const first = withSection(prose, "one");
    expect(first).toBe(`${prose}\n<!-- bench:generated:start -->\none\n<!-- bench:generated:end -->\n`);
    const edited = `${first}\nmore prose after\n`;
    const second = withSection(edited, "two");
    expect(second).toBe(edited.replace("\none\n", "\ntwo\n"));
  });
});

describe("svg", () => {
  it("draws one bar per contender and run, names escaped", () => {
    const svg = groupedBars({
      title: "a < b",
      unit: "tasks/s",
      groups: ["x & y", "z"],
      series: [
        { name: "run A", values: [10, 20] },
        { name: "run B", values: [15, Number.NaN] },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("a &lt; b");
    expect(svg).toContain("x &amp; y");
    expect(svg.match(/<rect x="230" y="[\d.]+" width="[\d.]+" height="12"/g)).toHaveLength(4);
    expect(svg).toContain(">n/a<");
  });

  it("draws a polyline per series", () => {
    const svg = lines({
      title: "scale",
      xLabel: "tasks",
      yLabel: "MB",
      logX: true,
      series: [
        {
          name: "Celeriac",
          points: [
            [10_000, 80],
            [100_000, 82],
            [1_000_000, 85],
          ],
        },
      ],
    });
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    expect(svg.match(/<circle/g)).toHaveLength(3);
  });
});
