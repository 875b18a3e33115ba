#!/usr/bin/env node
// Regenerates the protocol-fixtures corpus of one Celery minor (default 5.7) into a temp dir with
// real Celery and diffs it against the committed one. Exit 1 on any difference, so a change in
// Celery's output or in the capture shows up as a red build.
//
//   node scripts/fixtures-check.mjs [5.7 ...] [--write]
//
// --write regenerates in place instead of checking (used to refresh the corpus).
// Needs python3 and redis-server on PATH; the capture starts its own Redis on a unix socket.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureVenv, MINORS } from "./venv.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CAPTURE = join(ROOT, "python-interop", "capture", "capture.py");

function capture(python, outDir) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, [CAPTURE, "--out", outDir], { stdio: ["ignore", "inherit", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolvePromise(stderr.trim().split("\n").at(-1) ?? "");
      else reject(new Error(`capture exited ${code}:\n${stderr.slice(-4000)}`));
    });
  });
}

async function listFiles(dir) {
  const out = [];
  async function walk(d) {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.push(relative(dir, path));
    }
  }
  await walk(dir);
  return out.sort();
}

// The manifest's "environment" (python and redis-server versions of the capturing machine) is
// informational; everything else must match byte for byte.
function comparableManifest(text) {
  const manifest = JSON.parse(text);
  delete manifest.environment;
  return JSON.stringify(manifest, null, 2);
}

function firstDifference(a, b) {
  const lines1 = a.split("\n");
  const lines2 = b.split("\n");
  for (let i = 0; i < Math.max(lines1.length, lines2.length); i++) {
    if (lines1[i] !== lines2[i]) {
      return `    line ${i + 1}\n    committed:   ${lines1[i] ?? "<eof>"}\n    regenerated: ${lines2[i] ?? "<eof>"}`;
    }
  }
  return "";
}

async function diffDirs(committedDir, freshDir) {
  const problems = [];
  const committed = await listFiles(committedDir);
  const fresh = await listFiles(freshDir);
  for (const file of committed.filter((f) => !fresh.includes(f)))
    problems.push(`missing after regeneration: ${file}`);
  for (const file of fresh.filter((f) => !committed.includes(f)))
    problems.push(`new, not committed: ${file}`);
  for (const file of committed.filter((f) => fresh.includes(f))) {
    let a = await readFile(join(committedDir, file), "utf8");
    let b = await readFile(join(freshDir, file), "utf8");
    if (file === "manifest.json") {
      a = comparableManifest(a);
      b = comparableManifest(b);
    }
    if (a !== b) problems.push(`differs: ${file}\n${firstDifference(a, b)}`);
  }
  return problems;
}

async function main() {
  const args = process.argv.slice(2);
  const write = args.includes("--write");
  const minors = args.filter((a) => !a.startsWith("--"));
  const selected = minors.length > 0 ? minors : ["5.7"];
  let failed = false;
  for (const minor of selected) {
    if (!MINORS.includes(minor)) throw new Error(`unknown minor ${minor}`);
    const python = await ensureVenv(minor, { log: (m) => process.stderr.write(`[venv] ${m}\n`) });
    const committedDir = join(ROOT, "protocol-fixtures", minor);
    if (write) {
      process.stderr.write(`${await capture(python, committedDir)}\n`);
      continue;
    }
    const freshDir = await mkdtemp(join(tmpdir(), `fixtures-${minor}-`));
    try {
      process.stderr.write(`${await capture(python, freshDir)}\n`);
      const problems = await diffDirs(committedDir, freshDir);
      if (problems.length > 0) {
        failed = true;
        process.stderr.write(`protocol-fixtures/${minor}: ${problems.length} difference(s)\n`);
        for (const p of problems.slice(0, 30)) process.stderr.write(`  ${p}\n`);
        process.stderr.write(`Regenerate with: node scripts/fixtures-check.mjs ${minor} --write\n`);
      } else {
        process.stderr.write(`protocol-fixtures/${minor}: regenerated corpus matches the committed one\n`);
      }
    } finally {
      await rm(freshDir, { recursive: true, force: true });
    }
  }
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
