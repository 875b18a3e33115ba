/**
 * A throwaway Redis Sentinel set-up for tests: one master, one replica and three
 * `redis-server --sentinel` processes, all children of the test process on free ports with
 * temp dirs (no Docker; Debian's redis-server, which is also the Sentinel binary).
 *
 * The master and replica are {@link startRedis} servers; the password (when given) is set
 * with CONFIG SET after boot because the readiness probe PINGs without AUTH. Sentinels get a
 * short `down-after-milliseconds` so failover tests do not wait the stock 30 s.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { freePort, makeTempDir } from "../ports.js";
import { ChildHandle, tail, waitUntil } from "../process.js";
import { REDIS_SERVER_BIN, type RedisServer, startRedis } from "./redis.js";
import { redisPing } from "./redis-ping.js";

export interface RedisSentinelOptions {
  /** The name the Sentinels monitor the master under (kombu `master_name`); default "mymaster". */
  masterName?: string;
  /** `requirepass` (and `masterauth`) on master and replica, `auth-pass` in the Sentinels. */
  password?: string;
  /** Sentinel `down-after-milliseconds`; default 1000. */
  downAfterMs?: number;
  /** Boot timeout for the whole set-up; default 30 s. */
  timeoutMs?: number;
  /** Replicas of the master (default 1); with 2, the promoted one still has a replica. */
  replicas?: number;
  /**
   * Keep an append-only file on master and replicas (`<server.dir>/appendonlydir`), in RESP only
   * and never rewritten, so a test can read back every write a killed master made (aof-trace.ts).
   */
  appendOnly?: boolean;
}

export interface RedisSentinelSet {
  readonly masterName: string;
  readonly password: string | undefined;
  readonly master: RedisServer;
  readonly replica: RedisServer;
  /** Every replica (`replica` is the first). */
  readonly replicas: readonly RedisServer[];
  /** The Sentinels' TCP ports. */
  readonly sentinelPorts: readonly number[];
  /** kombu's form: `sentinel://:pw@127.0.0.1:P1/<db>;sentinel://127.0.0.1:P2/<db>;...`. */
  url(db?: number): string;
  /** `host:port` the Sentinels currently name as master. */
  currentMaster(): Promise<string>;
  /** `SENTINEL FAILOVER <master>` and waits until the Sentinels name another master. */
  failover(timeoutMs?: number): Promise<string>;
  /** Output of every process, for failure messages. */
  logs(): string;
  /** Kills every process and removes the temp dirs. */
  dispose(): Promise<void>;
}

class SentinelProcess {
  child: ChildHandle | undefined;
  port = 0;
  constructor(
    private readonly dir: string,
    private readonly configText: (port: number) => string,
  ) {}

  async boot(timeoutMs: number): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      this.port = await freePort();
      const conf = join(this.dir, "sentinel.conf");
      writeFileSync(conf, this.configText(this.port));
      const child = new ChildHandle(REDIS_SERVER_BIN, [conf, "--sentinel"]);
      this.child = child;
      try {
        await waitUntil(
          `redis sentinel :${this.port}`,
          () => redisPing({ kind: "tcp", host: "127.0.0.1", port: this.port }, 500),
          {
            timeoutMs,
            child,
          },
        );
        return;
      } catch (err) {
        await child.terminate("SIGKILL");
        if (!/Address already in use/.test(child.output())) throw err;
      }
    }
    throw new Error("redis sentinel: no free port after 5 attempts");
  }
}

/** Starts master, replica and three Sentinels; resolves once every Sentinel sees the replica and the two other Sentinels. */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const masterName = options.masterName ?? "mymaster";
  const password = options.password;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started: { servers: RedisServer[]; sentinels: SentinelProcess[]; dirs: string[] } = {
    servers: [],
    sentinels: [],
    dirs: [],
  };
  const dispose = async () => {
    await Promise.all(started.sentinels.map((s) => s.child?.terminate("SIGKILL")));
    await Promise.all(started.servers.map((s) => s.dispose()));
    for (const dir of started.dirs) rmSync(dir, { recursive: true, force: true });
  };
  const logs = () =>
    [
      ...started.servers.map((s, i) => `--- ${i === 0 ? "master" : "replica"} ---\n${tail(s.logs(), 3000)}`),
      ...started.sentinels.map((s) => `--- sentinel :${s.port} ---\n${tail(s.child?.output() ?? "", 3000)}`),
    ].join("\n");
  try {
    const aof = options.appendOnly
      ? ["--appendonly", "yes", "--appendfsync", "no", "--aof-use-rdb-preamble", "no"]
      : [];
    // No automatic rewrite: it would fold the writes into a new base and lose their order.
    if (options.appendOnly) aof.push("--auto-aof-rewrite-percentage", "0");
    const master = await startRedis({ extraArgs: aof });
    started.servers.push(master);
    const replicas: RedisServer[] = [];
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      replicas.push(
        await startRedis({ extraArgs: [...aof, "--replicaof", "127.0.0.1", String(master.port)] }),
      );
    }
    started.servers.push(...replicas);
    const replica = replicas[0] as RedisServer;
    if (password !== undefined) {
      for (const server of [master, ...replicas]) {
        const client = new Redis(server.port ?? 0, "127.0.0.1", { maxRetriesPerRequest: 1 });
        try {
          await client.config("SET", "masterauth", password);
          await client.config("SET", "requirepass", password);
        } finally {
          client.disconnect();
        }
      }
    }
    const down = options.downAfterMs ?? 1000;
    for (let i = 0; i < 3; i++) {
      const dir = makeTempDir("sentinel");
      started.dirs.push(dir);
      const sentinel = new SentinelProcess(dir, (port) =>
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          "daemonize no",
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${password}`]),
          `sentinel down-after-milliseconds ${masterName} ${down}`,
          `sentinel failover-timeout ${masterName} ${Math.max(3000, down * 3)}`,
          `sentinel parallel-syncs ${masterName} 1`,
          "",
        ].join("\n"),
      );
      started.sentinels.push(sentinel);
      await sentinel.boot(timeoutMs);
    }
    const sentinelPorts = started.sentinels.map((s) => s.port);
    const ask = async <T>(port: number, run: (client: Redis) => Promise<T>): Promise<T> => {
      const client = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1, lazyConnect: true });
      client.on("error", () => {});
      try {
        return await run(client);
      } finally {
        client.disconnect();
      }
    };
    const masterState = (port: number) =>
      ask(port, async (c) => {
        const flat = (await c.call("SENTINEL", "MASTER", masterName)) as string[];
        const state = new Map<string, string>();
        for (let i = 0; i + 1 < flat.length; i += 2) state.set(String(flat[i]), String(flat[i + 1]));
        return state;
      });
    await waitUntil(
      "redis sentinels (see the replica and each other)",
      async () => {
        for (const port of sentinelPorts) {
          const state = await masterState(port).catch(() => new Map<string, string>());
          if (state.get("num-slaves") !== String(replicas.length) || state.get("num-other-sentinels") !== "2")
            return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 200 },
    );
    const currentMaster = async () => {
      const first = sentinelPorts[0] ?? 0;
      const [host, port] = (await ask(first, (c) =>
        c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName),
      )) as string[];
      return `${host}:${port}`;
    };
    return {
      masterName,
      password,
      master,
      replica,
      replicas,
      sentinelPorts,
      url(db = 0) {
        const auth = password === undefined ? "" : `:${encodeURIComponent(password)}@`;
        return sentinelPorts
          .map((port, i) => `sentinel://${i === 0 ? auth : ""}127.0.0.1:${port}/${db}`)
          .join(";");
      },
      currentMaster,
      async failover(failoverTimeoutMs = 30_000) {
        const before = await currentMaster();
        const deadline = Date.now() + failoverTimeoutMs;
        // -INPROG / -NOGOODSLAVE right after a boot or another failover: ask again.
        for (;;) {
          const answer = await ask(sentinelPorts[0] ?? 0, (c) =>
            c.call("SENTINEL", "FAILOVER", masterName),
          ).catch((err: Error) => err);
          if (!(answer instanceof Error)) break;
          if (Date.now() > deadline) throw new Error(`SENTINEL FAILOVER: ${answer.message}\n${logs()}`);
          await sleep(200);
        }
        await waitUntil("redis sentinel failover", async () => (await currentMaster()) !== before, {
          timeoutMs: Math.max(1000, deadline - Date.now()),
          intervalMs: 100,
        });
        return currentMaster();
      },
      logs,
      dispose,
    };
  } catch (err) {
    const text = logs();
    await dispose();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
}
