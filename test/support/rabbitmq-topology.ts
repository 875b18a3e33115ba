/**
 * What a RabbitMQ vhost holds, as `rabbitmqctl` lists it (JSON formatter), for tests that compare
 * the declarations TS makes with those a real Python Celery worker makes.
 */
import type { CtlResult } from "./servers/rabbitmq.js";

type Ctl = (args: readonly string[]) => Promise<CtlResult>;

export interface QueueRow {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  /** `[name, value]` pairs as rabbitmqctl prints them, sorted by name. */
  arguments: unknown;
  messages_ready?: number;
  messages_unacknowledged?: number;
}

export interface ExchangeRow {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: unknown;
}

export interface BindingRow {
  source_name: string;
  source_kind: string;
  destination_name: string;
  destination_kind: string;
  routing_key: string;
  arguments: unknown;
}

function sortedArgs(raw: unknown): unknown {
  const list = Array.isArray(raw) ? (raw as unknown[][]) : [];
  return [...list].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

async function listJson<T>(ctl: Ctl, args: readonly string[]): Promise<T[]> {
  const out = await ctl([...args, "--formatter", "json"]);
  return JSON.parse(out.stdout) as T[];
}

export async function listQueues(ctl: Ctl, vhost: string): Promise<QueueRow[]> {
  const rows = await listJson<QueueRow>(ctl, [
    "list_queues",
    "-p",
    vhost,
    "name",
    "durable",
    "auto_delete",
    "exclusive",
    "arguments",
    "messages_ready",
    "messages_unacknowledged",
  ]);
  return rows.map((r) => ({ ...r, arguments: sortedArgs(r.arguments) }));
}

export async function listExchanges(ctl: Ctl, vhost: string): Promise<ExchangeRow[]> {
  const rows = await listJson<ExchangeRow>(ctl, [
    "list_exchanges",
    "-p",
    vhost,
    "name",
    "type",
    "durable",
    "auto_delete",
    "internal",
    "arguments",
  ]);
  return rows.map((r) => ({ ...r, arguments: sortedArgs(r.arguments) }));
}

export async function listBindings(ctl: Ctl, vhost: string): Promise<BindingRow[]> {
  return listJson<BindingRow>(ctl, [
    "list_bindings",
    "-p",
    vhost,
    "source_name",
    "source_kind",
    "destination_name",
    "destination_kind",
    "routing_key",
    "arguments",
  ]);
}

export interface TopologySnapshot {
  exchanges: string[];
  queues: string[];
  bindings: string[];
}

/**
 * Exchanges, queues (flags and x-arguments, no message counts) and bindings whose names `keep`
 * accepts, each as one sorted line: two snapshots are equal when the declarations were.
 */
export async function topologySnapshot(
  ctl: Ctl,
  vhost: string,
  keep: (name: string) => boolean,
): Promise<TopologySnapshot> {
  const [exchanges, queues, bindings] = await Promise.all([
    listExchanges(ctl, vhost),
    listQueues(ctl, vhost),
    listBindings(ctl, vhost),
  ]);
  return {
    exchanges: exchanges
      .filter((e) => keep(e.name))
      .map((e) => JSON.stringify([e.name, e.type, e.durable, e.auto_delete, e.internal, e.arguments]))
      .sort(),
    queues: queues
      .filter((q) => keep(q.name))
      .map((q) => JSON.stringify([q.name, q.durable, q.auto_delete, q.exclusive, q.arguments]))
      .sort(),
    bindings: bindings
      .filter((b) => keep(b.destination_name) && (b.source_name === "" || keep(b.source_name)))
      .map((b) =>
        JSON.stringify([b.source_name, b.destination_name, b.destination_kind, b.routing_key, b.arguments]),
      )
      .sort(),
  };
}
