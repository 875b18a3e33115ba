/**
 * A small SVG writer for the benchmark charts: grouped horizontal bars (contenders × runs,
 * latency percentiles) and lines (the scale curve, fairness over time). Hand-rolled because the
 * charts are three shapes with a few dozen marks each; a charting library would bring a DOM or a
 * headless browser for that.
 */

const PALETTE = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#c53030", "#718096"];
const FAMILY = 'font-family="DejaVu Sans, Arial, sans-serif"';
const FONT = `${FAMILY} font-size="12"`;
const TITLE_FONT = `${FAMILY} font-size="14" font-weight="bold"`;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function label(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n === 0) return "0";
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US").replace(/,/g, " ");
  return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
}

/** A "nice" axis maximum above `max` (1, 2, 2.5 or 5 × 10^k). */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 2.5, 5, 10].find((m) => m * p >= max) ?? 10) * p;
}

function legend(names: readonly string[], x: number, y: number): string {
  return names
    .map(
      (name, i) =>
        `<rect x="${x}" y="${y + i * 16}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/>` +
        `<text x="${x + 14}" y="${y + i * 16 + 9}" ${FONT}>${esc(name)}</text>`,
    )
    .join("");
}

/** Horizontal bars: one block per group (contender), one bar per series (run). */
export function groupedBars(opts: {
  title: string;
  unit: string;
  groups: readonly string[];
  series: readonly { name: string; values: readonly number[] }[];
}): string {
  const labelW = 230;
  const plotW = 420;
  const barH = 14;
  const gap = 10;
  const top = 34;
  const groupH = opts.series.length * barH + gap;
  const max = niceMax(Math.max(...opts.series.flatMap((s) => s.values.filter(Number.isFinite))));
  const legendY = top + opts.groups.length * groupH + 26;
  const height = legendY + opts.series.length * 16 + 8;
  const width = labelW + plotW + 90;
  const parts: string[] = [`<text x="10" y="20" ${TITLE_FONT}>${esc(opts.title)}</text>`];
  for (let t = 0; t <= 4; t++) {
    const x = labelW + (plotW * t) / 4;
    parts.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${legendY - 22}" stroke="#e2e8f0"/>`);
    parts.push(
      `<text x="${x}" y="${legendY - 8}" ${FONT} text-anchor="middle">${label((max * t) / 4)}</text>`,
    );
  }
  parts.push(
    `<text x="${labelW + plotW}" y="${legendY + 6}" ${FONT} text-anchor="end" fill="#4a5568">${esc(opts.unit)}</text>`,
  );
  opts.groups.forEach((group, g) => {
    const y0 = top + g * groupH;
    parts.push(
      `<text x="${labelW - 8}" y="${y0 + (opts.series.length * barH) / 2 + 4}" ${FONT} text-anchor="end">${esc(group)}</text>`,
    );
    opts.series.forEach((s, i) => {
      const v = s.values[g] ?? Number.NaN;
      const w = Number.isFinite(v) ? Math.max(1, (plotW * v) / max) : 0;
      const y = y0 + i * barH;
      parts.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${PALETTE[i % PALETTE.length]}"/>`,
      );
      parts.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 4}" ${FONT}>${label(v)}</text>`);
    });
  });
  if (opts.series.length > 1)
    parts.push(
      legend(
        opts.series.map((s) => s.name),
        labelW,
        legendY + 12,
      ),
    );
  return wrap(opts.title, width, height, parts);
}

/** Lines with dots over a linear x axis (or log10 when `logX`). */
export function lines(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly { name: string; points: readonly (readonly [number, number])[] }[];
  logX?: boolean;
}): string {
  const left = 70;
  const top = 34;
  const plotW = 480;
  const plotH = 240;
  const all = opts.series.flatMap((s) => s.points);
  const tx = (x: number) => (opts.logX ? Math.log10(x) : x);
  const xs = all.map(([x]) => tx(x));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMax = niceMax(Math.max(...all.map(([, y]) => y)));
  const px = (x: number) => left + (xMax === xMin ? plotW / 2 : ((tx(x) - xMin) / (xMax - xMin)) * plotW);
  const py = (y: number) => top + plotH - (plotH * y) / yMax;
  const parts: string[] = [
    `<text x="10" y="20" ${TITLE_FONT}>${esc(opts.title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#4a5568"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#4a5568"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const y = top + plotH - (plotH * t) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="#e2e8f0"/>`);
    parts.push(
      `<text x="${left - 6}" y="${y + 4}" ${FONT} text-anchor="end">${label((yMax * t) / 4)}</text>`,
    );
  }
  for (const x of [...new Set(all.map(([x]) => x))])
    parts.push(
      `<text x="${px(x).toFixed(1)}" y="${top + plotH + 16}" ${FONT} text-anchor="middle">${label(x)}</text>`,
    );
  parts.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" ${FONT} text-anchor="middle">${esc(opts.xLabel)}</text>`,
  );
  parts.push(
    `<text x="14" y="${top + plotH / 2}" ${FONT} text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">${esc(opts.yLabel)}</text>`,
  );
  opts.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const path = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [x, y] of s.points)
      parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
  });
  const legendY = top + plotH + 48;
  parts.push(
    legend(
      opts.series.map((s) => s.name),
      left,
      legendY,
    ),
  );
  return wrap(opts.title, left + plotW + 30, legendY + opts.series.length * 16 + 8, parts);
}

function wrap(title: string, width: number, height: number, parts: readonly string[]): string {
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`;
  return `${head}\n<title>${esc(title)}</title>\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}
