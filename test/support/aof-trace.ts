/**
 * Where did a message go? Reads a Redis append-only file (Redis 7 multi-part AOF, RESP only:
 * `startRedisSentinel({ appendOnly: true })`) and replays the kombu queue lists and the `unacked`
 * hash, so a failover test can say, for a task that never ran, which command took it off its
 * queue on the master that was killed.
 *
 * The two consumers take differently, and the AOF shows which one it was:
 * - kombu 5.7 (Python worker) sends BRPOP (kombu/transport/redis.py `Channel._brpop_start` /
 *   `_brpop_read`), which Redis writes as a bare `RPOP`; only when the reply has reached the
 *   worker does `QoS.append` record the message with a separate `MULTI ZADD unacked_index / HSET
 *   unacked EXEC` (kombu/transport/virtual/base.py `Channel.basic_consume._callback`).
 * - Celeriac's take script (src/transports/redis/take.ts) pops and records in one script, which
 *   Redis writes as one `MULTI RPOP ZADD HSET EXEC` block.
 *
 * The master writes a command to its AOF before it replies or replicates it, so a pop the kill
 * cut short of its reply is still there.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface AofCommand {
  /** Upper-cased command name, then the arguments. */
  args: string[];
  db: number;
  /** Index of the MULTI/EXEC block the command ran in; null for a command on its own. */
  block: number | null;
}

/** Every command of the AOF in `serverDir` (its base, then its increments), in order. */
export function readAof(serverDir: string): AofCommand[] {
  const dir = join(serverDir, "appendonlydir");
  const manifest = join(dir, "appendonly.aof.manifest");
  if (!existsSync(manifest))
    throw new Error(`no AOF manifest in ${dir}: was the server started with appendOnly?`);
  const files = readFileSync(manifest, "utf8")
    .split("\n")
    .map((line) => /^file (\S+) seq (\d+) type ([bi])/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => (a[3] === b[3] ? Number(a[2]) - Number(b[2]) : a[3] === "b" ? -1 : 1));
  const out: AofCommand[] = [];
  let db = 0;
  let block: number | null = null;
  let blocks = 0;
  for (const m of files) {
    const name = m[1] as string;
    if (name.endsWith(".rdb"))
      throw new Error(`${name}: an RDB base cannot be replayed (aof-use-rdb-preamble no)`);
    for (const args of parseResp(readFileSync(join(dir, name)))) {
      const cmd = (args[0] ?? "").toUpperCase();
      if (cmd === "SELECT") db = Number(args[1]);
      else if (cmd === "MULTI") block = blocks++;
      else if (cmd === "EXEC") block = null;
      else out.push({ args: [cmd, ...args.slice(1)], db, block });
    }
  }
  return out;
}

function parseResp(buf: Buffer): string[][] {
  const commands: string[][] = [];
  let at = 0;
  const line = (): string => {
    const end = buf.indexOf("\r\n", at);
    if (end < 0) throw new Error(`truncated AOF at byte ${at}`);
    const text = buf.toString("latin1", at, end);
    at = end + 2;
    return text;
  };
  while (at < buf.length) {
    const head = line();
    if (!head.startsWith("*"))
      throw new Error(`AOF: expected an array at byte ${at}, got ${head.slice(0, 20)}`);
    const args: string[] = [];
    for (let n = Number(head.slice(1)); n > 0; n--) {
      const len = Number(line().slice(1));
      args.push(buf.toString("utf8", at, at + len));
      at += len + 2;
    }
    commands.push(args);
  }
  return commands;
}

/** One step of a message's way through the lists and the `unacked` hash. */
export interface TraceStep {
  /** Position of the command in the AOF. */
  at: number;
  what: "pushed" | "popped" | "recorded in unacked" | "removed from unacked";
  command: string;
  /** The MULTI/EXEC block, or null for a command on its own (a Python BRPOP). */
  block: number | null;
}

/** A small deque: kombu's lists are pushed at one end and popped at the other. */
class Deque {
  private items = new Map<number, string>();
  private left = 0;
  private right = 0;
  pushLeft(v: string): void {
    this.items.set(--this.left, v);
  }
  pushRight(v: string): void {
    this.items.set(this.right++, v);
  }
  popLeft(): string | undefined {
    if (this.left === this.right) return undefined;
    const v = this.items.get(this.left);
    this.items.delete(this.left++);
    return v;
  }
  popRight(): string | undefined {
    if (this.left === this.right) return undefined;
    const v = this.items.get(--this.right);
    this.items.delete(this.right);
    return v;
  }
}

/** Task ids are UUIDs and appear in the clear in a kombu envelope's headers. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Replays the list and hash commands and returns, for each id (a task id, a UUID), every step of the message that carries it. */
export function traceIds(
  commands: readonly AofCommand[],
  ids: readonly string[],
  unackedKey = "unacked",
): Map<string, TraceStep[]> {
  const lists = new Map<string, Deque>();
  const list = (c: AofCommand, key: string) => {
    const k = `${c.db}\u0000${key}`;
    let d = lists.get(k);
    if (d) return d;
    d = new Deque();
    lists.set(k, d);
    return d;
  };
  const steps = new Map<string, TraceStep[]>(ids.map((id) => [id, []]));
  const tagOf = new Map<string, string>();
  const note = (value: string | undefined, at: number, c: AofCommand, what: TraceStep["what"]) => {
    if (value === undefined) return;
    for (const id of new Set(value.match(UUID) ?? [])) {
      steps.get(id)?.push({ at, what, command: c.args[0] as string, block: c.block });
    }
  };
  commands.forEach((c, at) => {
    const [cmd, key = "", ...rest] = c.args;
    switch (cmd) {
      case "LPUSH":
      case "RPUSH":
        for (const v of rest) {
          if (cmd === "LPUSH") list(c, key).pushLeft(v);
          else list(c, key).pushRight(v);
          note(v, at, c, "pushed");
        }
        break;
      case "RPOP":
      case "LPOP":
      case "BRPOP":
      case "BLPOP":
        for (let n = rest[0] === undefined ? 1 : Number(rest[0]); n > 0; n--) {
          note(cmd.endsWith("LPOP") ? list(c, key).popLeft() : list(c, key).popRight(), at, c, "popped");
        }
        break;
      case "LMOVE": {
        const [dest = "", from, to] = rest;
        const v = from === "LEFT" ? list(c, key).popLeft() : list(c, key).popRight();
        if (v !== undefined) {
          if (to === "LEFT") list(c, dest).pushLeft(v);
          else list(c, dest).pushRight(v);
        }
        break;
      }
      case "DEL":
        for (const k of [key, ...rest]) lists.delete(`${c.db}\u0000${k}`);
        break;
      case "HSET":
        if (key !== unackedKey) break;
        for (let i = 0; i + 1 < rest.length; i += 2) {
          tagOf.set(rest[i] as string, rest[i + 1] as string);
          note(rest[i + 1], at, c, "recorded in unacked");
        }
        break;
      case "HDEL":
        if (key !== unackedKey) break;
        for (const tag of rest) {
          note(tagOf.get(tag), at, c, "removed from unacked");
          tagOf.delete(tag);
        }
        break;
    }
  });
  return steps;
}

/**
 * Which consumer took the message off its queue, by the shape of the pop in the AOF: a pop in the
 * same MULTI block that records it in `unacked` is Celeriac's take script; a pop on its own is
 * kombu's BRPOP. Null when the AOF shows no pop of it.
 */
export function takenBy(
  steps: readonly TraceStep[],
): "celeriac take script" | "kombu BRPOP" | "a pop in a MULTI block that did not record it" | null {
  const pops = steps.filter((s) => s.what === "popped");
  const pop = pops[pops.length - 1];
  if (!pop) return null;
  if (pop.block === null) return "kombu BRPOP";
  return steps.some((s) => s.block === pop.block && s.what === "recorded in unacked")
    ? "celeriac take script"
    : "a pop in a MULTI block that did not record it";
}

export function describeTrace(steps: readonly TraceStep[]): string {
  return steps
    .map(
      (s) =>
        `#${s.at} ${s.what} (${s.command}${s.block === null ? ", on its own" : `, in MULTI block ${s.block}`})`,
    )
    .join("; ");
}
