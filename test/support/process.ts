/**
 * Child-process plumbing shared by the server and worker helpers.
 *
 * Every server and worker the harness starts is a *direct child* of the test process and is
 * waited for through its `exit` event. PID 1 on the reference machine does not reap orphans,
 * so daemonizing or polling pids would leave zombies that `kill -0` still
 * reports as alive.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed (stdin is /dev/null otherwise). */
  input?: string | Buffer;
  /** Called with each chunk of stdout/stderr text as it arrives (for readiness probes). */
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
  /** Run as this user/group (root only): PostgreSQL refuses to run as root. */
  uid?: number;
  gid?: number;
}

/**
 * Last-resort clean-up when the process ends without running teardown (a test whose setup threw
 * before its try/finally, a forgotten afterAll): SIGKILL whatever is still running, synchronously,
 * so nothing outlives us. vitest stops its fork workers with SIGTERM, which skips "exit"
 * handlers, so the termination signals are hooked too.
 */
const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

function runExitCleanups(): void {
  for (const fn of exitCleanups) {
    try {
      fn();
    } catch {
      // Best effort: the process is going away.
    }
  }
  exitCleanups.clear();
}

const TERMINATION_SIGNALS: ReadonlyArray<[NodeJS.Signals, number]> = [
  ["SIGTERM", 15],
  ["SIGINT", 2],
  ["SIGHUP", 1],
];

export function registerExitCleanup(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", runExitCleanups);
    for (const [signal, number] of TERMINATION_SIGNALS) {
      process.once(signal, () => {
        runExitCleanups();
        // Exit as the default action would, unless someone else (vitest's main process) handles
        // the signal and exits in its own time.
        if (process.listenerCount(signal) === 0) process.exit(128 + number);
      });
    }
  }
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

/** Output is kept so failures can print it; capped so a chatty child cannot eat the heap. */
const MAX_KEPT_OUTPUT = 2_000_000;

export class ChildHandle {
  readonly child: ChildProcess;
  /** Resolves once the process has exited (never rejects; spawn errors resolve with code null). */
  readonly exited: Promise<ChildExit>;
  private kept = "";
  private exitInfo: ChildExit | undefined;
  private spawnError: Error | undefined;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    options: SpawnOptions = {},
  ) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    if (options.input !== undefined) {
      // A child that exits without reading its input must not crash us with EPIPE.
      this.child.stdin?.on("error", () => {});
      this.child.stdin?.end(options.input);
    }
    const collect = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (this.kept.length < MAX_KEPT_OUTPUT) this.kept += text;
      options.onOutput?.(text, stream);
    };
    this.child.stdout?.on("data", collect("stdout"));
    this.child.stderr?.on("data", collect("stderr"));
    this.exited = new Promise<ChildExit>((resolve) => {
      this.child.once("error", (err) => {
        this.spawnError = err;
        // 'exit' is not emitted when the binary could not be spawned at all.
        if (this.child.pid === undefined) {
          this.exitInfo = { code: null, signal: null };
          resolve(this.exitInfo);
        }
      });
      this.child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    const unregister = registerExitCleanup(() => this.signal("SIGKILL"));
    void this.exited.then(unregister);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Undefined while running. */
  get exit(): ChildExit | undefined {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Everything the child printed so far (stdout and stderr interleaved as received). */
  output(): string {
    return this.kept;
  }

  describeExit(): string {
    if (this.spawnError) return `could not spawn ${this.command}: ${this.spawnError.message}`;
    if (!this.exitInfo) return "still running";
    return this.exitInfo.signal
      ? `killed by ${this.exitInfo.signal}`
      : `exited with code ${this.exitInfo.code}`;
  }

  /** Sends a signal if the process is still running; returns whether it was sent. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    return this.child.kill(sig);
  }

  /**
   * Sends `sig` and waits for exit; escalates to SIGKILL after `graceMs` so teardown never hangs.
   */
  async terminate(sig: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<ChildExit> {
    if (!this.running) return this.exitInfo ?? (await this.exited);
    this.signal(sig);
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Resolves when `host:port` accepts a TCP connection, false on refusal. */
export function tcpAccepts(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Polls `probe` until it returns true. Fails early when `child` exits first, with its output,
 * so a server that died at boot is reported with its own words instead of as a timeout.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; child?: ChildHandle },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 25;
  for (;;) {
    if (options.child && !options.child.running) {
      throw new Error(
        `${what}: process ${options.child.describeExit()} before it was ready.\n--- output ---\n${tail(options.child.output())}`,
      );
    }
    if (await probe()) return;
    if (Date.now() > deadline) {
      const out = options.child ? `\n--- output ---\n${tail(options.child.output())}` : "";
      throw new Error(`${what}: not ready after ${options.timeoutMs} ms${out}`);
    }
    await sleep(interval);
  }
}

/** The last lines of a long log, for error messages. */
export function tail(text: string, maxChars = 6000): string {
  return text.length <= maxChars ? text : `...${text.slice(-maxChars)}`;
}
