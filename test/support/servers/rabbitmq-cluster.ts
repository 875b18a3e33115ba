/**
 * A three-node RabbitMQ cluster for tests (Debian's rabbitmq-server 3.10.8, no Docker): the
 * single-node recipe of rabbitmq.ts three times, with what clustering adds.
 *
 * - One epmd for the whole cluster, a direct child on a free port (the nodes find each other
 *   through it), and one Erlang cookie written into each node's HOME.
 * - Distinct node names, AMQP and distribution ports, data and log dirs per node.
 * - The three nodes boot together, then nodes 2 and 3 in turn run `stop_app`, `join_cluster
 *   <node 1>`, `start_app` (the CLI's way: deterministic, where classic peer discovery can race
 *   into separate clusters when nodes boot at once).
 * - `stop(i)` is a clean shutdown of one node (SIGTERM: its quorum queue members stop, clients
 *   are disconnected), `start(i)` brings it back with its data, and it rejoins by itself.
 *
 * RabbitMQ 4.x is not installable here: everything the tests do with it (quorum queues, leader
 * election, join_cluster) is the same in 4.x, which is not tested.
 */
import { randomBytes } from "node:crypto";
import { freePort } from "../ports.js";
import { ChildHandle, tcpAccepts, waitUntil } from "../process.js";
import { type RabbitMqServer, startRabbitMq } from "./rabbitmq.js";

const EPMD_BIN = process.env.CELERIAC_EPMD ?? "epmd";

export interface RabbitMqCluster {
  readonly nodes: readonly RabbitMqServer[];
  /** kombu's failover form: every node's URL joined with `;` (`vhost` appended to each when given). */
  url(vhost?: string): string;
  /** `rabbitmqctl` on the first running node. */
  ctl(args: readonly string[]): ReturnType<RabbitMqServer["ctl"]>;
  /** Node name (`name@localhost`) of the leader of quorum queue `queue`. */
  quorumLeader(queue: string, vhost?: string): Promise<string>;
  /** Clean stop of the node named `nodeName` (or index); its data is kept. */
  stop(node: string | number): Promise<void>;
  /** Starts a stopped node again; it rejoins the cluster. */
  start(node: string | number): Promise<void>;
  dispose(): Promise<void>;
}

class Cluster implements RabbitMqCluster {
  constructor(
    readonly nodes: RabbitMqServer[],
    private readonly epmd: ChildHandle,
  ) {}

  url(vhost?: string): string {
    const suffix = vhost === undefined ? "" : `/${encodeURIComponent(vhost)}`;
    return this.nodes.map((n) => `${n.url}${suffix}`).join(";");
  }

  private node(which: string | number): RabbitMqServer {
    const found =
      typeof which === "number" ? this.nodes[which] : this.nodes.find((n) => n.nodeName === which);
    if (!found) throw new Error(`no cluster node ${String(which)}`);
    return found;
  }

  ctl(args: readonly string[]): ReturnType<RabbitMqServer["ctl"]> {
    const running = this.nodes.find((n) => n.running);
    if (!running) throw new Error("no cluster node is running");
    return running.ctl(args);
  }

  async quorumLeader(queue: string, vhost = "/"): Promise<string> {
    const out = await this.ctl(["list_queues", "-p", vhost, "name", "leader", "--formatter", "json"]);
    const rows = JSON.parse(out.stdout) as { name: string; leader: string }[];
    const row = rows.find((r) => r.name === queue);
    if (!row?.leader) throw new Error(`no leader listed for quorum queue ${queue}: ${out.stdout}`);
    return row.leader;
  }

  async stop(which: string | number): Promise<void> {
    await this.node(which).stop();
  }

  async start(which: string | number): Promise<void> {
    await this.node(which).start();
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.dispose()));
    await this.epmd.terminate("SIGTERM", 5000);
  }
}

/** Boots three nodes and clusters them (about 15-25 s on 2 shared cores). */
export async function startRabbitMqCluster(options: { size?: number } = {}): Promise<RabbitMqCluster> {
  const size = options.size ?? 3;
  const epmdPort = await freePort();
  const epmd = new ChildHandle(EPMD_BIN, ["-port", String(epmdPort)], {
    env: { ...process.env, ERL_EPMD_ADDRESS: "127.0.0.1" },
  });
  const nodes: RabbitMqServer[] = [];
  try {
    await waitUntil(`epmd on port ${epmdPort}`, () => tcpAccepts(epmdPort), {
      timeoutMs: 10_000,
      child: epmd,
    });
    const cluster = { epmdPort, cookie: randomBytes(16).toString("hex").toUpperCase(), namePrefix: "cxc" };
    const booted = await Promise.allSettled(Array.from({ length: size }, () => startRabbitMq({ cluster })));
    for (const b of booted) if (b.status === "fulfilled") nodes.push(b.value);
    const failed = booted.find((b) => b.status === "rejected");
    if (failed) throw failed.reason;
    const [seed, ...others] = nodes as [RabbitMqServer, ...RabbitMqServer[]];
    // One at a time: two nodes joining at once can each see the other half-joined.
    for (const node of others) {
      await node.ctl(["stop_app"]);
      await node.ctl(["join_cluster", seed.nodeName]);
      await node.ctl(["start_app"]);
    }
    const status = await seed.ctl(["cluster_status", "--formatter", "json"]);
    const running = (JSON.parse(status.stdout) as { running_nodes: string[] }).running_nodes;
    if (running.length !== size) {
      throw new Error(
        `cluster formed with ${running.length} running nodes, wanted ${size}: ${status.stdout}`,
      );
    }
    return new Cluster(nodes, epmd);
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
    await epmd.terminate("SIGTERM", 5000);
    throw err;
  }
}
