/**
 * `npm run bench`: runs every benchmark in sequence, each in its own process (so one's JIT and
 * heap do not colour the next), and prints their output. Add a benchmark by appending to BENCHES.
 *
 *   npm run bench                      # all
 *   npx tsx bench/run.ts producer      # those whose file name contains "producer"
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));

/** [file, extra args]. */
const BENCHES: [string, string[]][] = [
  ["producer-redis.ts", []],
  ["worker-redis.ts", []],
  ["amqp.ts", []],
];

const filter = process.argv[2];
let failed = 0;
for (const [file, args] of BENCHES) {
  if (filter && !file.includes(filter)) continue;
  const path = join(HERE, file);
  if (!existsSync(path)) {
    console.log(`-- ${file}: missing, skipped`);
    continue;
  }
  console.log(`\n== ${file} ${args.join(" ")}`);
  const run = spawnSync(process.execPath, ["--import", "tsx", path, ...args], { stdio: "inherit" });
  if (run.status !== 0) {
    failed++;
    console.log(`!! ${file} exited with ${run.status ?? run.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
