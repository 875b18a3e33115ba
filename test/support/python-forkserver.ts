/**
 * Python snippets without paying for an interpreter start each time: one fork server per test
 * process and venv (python-interop/app/snippet_forkserver.py) imports Celery, kombu, redis-py and
 * py-amqp once, and each snippet runs in a child forked from it, with its own environment,
 * argv, stdin and exit status, importing `interop_app` itself as a fresh `python -c` would.
 * A fresh interpreter costs ~0.35 s of CPU (1-2 s wall on the shared 2-core box) before the
 * snippet's first line; a fork costs a few ms.
 *
 * Used by `runPython` (celery.ts) for snippets that pass no `env` of their own; the ones that do
 * (they may change what a library reads at import time) still get a fresh interpreter.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildExit } from "./process.js";
import { registerExitCleanup, tail } from "./process.js";

export interface ForkedRun {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  input?: string;
  /** SIGKILL the snippet after this long. */
  timeoutMs: number;
}

export interface ForkedResult extends ChildExit {
  stdout: string;
  stderr: string;
}

interface Pending {
  resolve(result: ForkedResult): void;
  reject(error: Error): void;
  pid?: number;
  files: { stdout: string; stderr: string; stdin: string | null };
  timer?: NodeJS.Timeout;
  unregister?: () => void;
}

class ForkServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly dir = mkdtempSync(join(tmpdir(), "celeriac-snippets-"));
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private stdoutBuffer = "";
  private stderrText = "";
  private dead = false;

  constructor(python: string, script: string, env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(python, [script], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdin.on("error", () => {});
    this.child.stdout.on("data", (chunk: Buffer) => this.onAnswers(chunk.toString("utf8")));
    this.child.stderr.on("data", (chunk: Buffer) => {
      if (this.stderrText.length < 100_000) this.stderrText += chunk.toString("utf8");
    });
    const unregister = registerExitCleanup(() => this.child.kill("SIGKILL"));
    const fail = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      unregister();
      const error = new Error(
        `python snippet fork server ${why}\n--- its stderr ---\n${tail(this.stderrText)}`,
      );
      for (const p of this.pending.values()) this.settle(p, () => p.reject(error));
      this.pending.clear();
      rmSync(this.dir, { recursive: true, force: true });
    };
    this.child.once("error", (err) => fail(`could not start: ${err.message}`));
    // "close", not "exit": answers still in the pipe when it exits are read first.
    this.child.once("close", (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
    // The server must not keep a finished test process alive; pending snippets hold timers that do.
    this.child.unref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
  }

  get alive(): boolean {
    return !this.dead;
  }

  run(request: ForkedRun): Promise<ForkedResult> {
    const id = String(this.nextId++);
    const files = {
      stdout: join(this.dir, `${id}.out`),
      stderr: join(this.dir, `${id}.err`),
      stdin: request.input === undefined ? null : join(this.dir, `${id}.in`),
    };
    if (files.stdin !== null) writeFileSync(files.stdin, request.input ?? "");
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.env)) if (value !== undefined) env[key] = value;
    return new Promise<ForkedResult>((resolve, reject) => {
      const entry: Pending = { resolve, reject, files };
      entry.timer = setTimeout(() => {
        if (entry.pid !== undefined) killQuietly(entry.pid);
      }, request.timeoutMs);
      this.pending.set(id, entry);
      this.child.stdin.write(
        `${JSON.stringify({ id, argv: request.argv, env, cwd: request.cwd, ...files })}\n`,
      );
    });
  }

  close(): void {
    this.child.stdin.end();
  }

  private onAnswers(text: string): void {
    this.stdoutBuffer += text;
    for (;;) {
      const newline = this.stdoutBuffer.indexOf("\n");
      if (newline < 0) return;
      const line = this.stdoutBuffer.slice(0, newline);
      this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
      if (line.trim() === "") continue;
      const answer = JSON.parse(line) as {
        id: string;
        pid?: number;
        code?: number | null;
        signal?: string | null;
      };
      const entry = this.pending.get(answer.id);
      if (!entry) continue;
      if (answer.pid !== undefined) {
        const pid = answer.pid;
        entry.pid = pid;
        // A test process that dies mid-snippet takes the snippet with it, as a spawned child would be.
        entry.unregister = registerExitCleanup(() => killQuietly(pid));
        continue;
      }
      this.pending.delete(answer.id);
      this.settle(entry, () =>
        entry.resolve({
          code: answer.code ?? null,
          signal: (answer.signal ?? null) as NodeJS.Signals | null,
          stdout: readAndRemove(entry.files.stdout),
          stderr: readAndRemove(entry.files.stderr),
        }),
      );
    }
  }

  private settle(entry: Pending, finish: () => void): void {
    clearTimeout(entry.timer);
    entry.unregister?.();
    try {
      finish();
    } finally {
      if (entry.files.stdin !== null) rmSync(entry.files.stdin, { force: true });
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function readAndRemove(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  } finally {
    rmSync(path, { force: true });
  }
}

const servers = new Map<string, ForkServer>();

/**
 * Runs `python ARGV...` as a child of the fork server for `python` (started on first use, with
 * `serverEnv` as the environment its preloaded libraries were imported under).
 */
export function runForked(
  python: string,
  script: string,
  serverEnv: NodeJS.ProcessEnv,
  request: ForkedRun,
): Promise<ForkedResult> {
  let server = servers.get(python);
  if (!server?.alive) {
    server = new ForkServer(python, script, serverEnv, request.cwd);
    servers.set(python, server);
  }
  return server.run(request);
}

/** Ends every fork server of this process (each kills and reaps the snippets it still runs). */
export function closeForkServers(): void {
  for (const server of servers.values()) server.close();
  servers.clear();
}
