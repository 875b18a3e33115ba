// Round-trip sampling shared by roundtrip.mjs (Celeriac) and raw-roundtrip.mjs (the broker's
// floor), so both contenders are timed and summarized the same way: 200 warm-up round trips
// (at most `samples`), then `samples` timed ones one after the other.
export async function sampleRoundTrips(once, samples) {
  for (let i = 0; i < Math.min(200, samples); i++) await once(i);
  const ms = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await once(i);
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** The percentiles a round-trip figure reports (nearest rank), as one JSON-ready object. */
export function latencySummary(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return { samples: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1] };
}
