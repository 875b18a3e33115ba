/**
 * Every AMQP declaration in src/transports/amqp/topology.ts against a real
 * Celery 5.7 / kombu 5.7 on a real RabbitMQ (issue 6, item 1):
 *
 * - Python declares first (task queue with task_queue_max_priority, RPC reply
 *   queue, worker and reply mailboxes, event receiver queue, their
 *   exchanges), then TS declares the shared ones (no 406), and the reverse
 *   order on a second vhost;
 * - `rabbitmqctl list_queues name durable auto_delete exclusive arguments`
 *   shows the TS queues with exactly the flags and x-arguments of Python's.
 *   Exclusive queues belong to one connection, so for those TS declares the
 *   same kind under its own name while Python's connection is still open.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmqpDeclarationError } from "../../src/transports/amqp/declare.js";
import { createAmqpTransport } from "../../src/transports/amqp/index.js";
import {
  eventReceiverDeclarations,
  pidboxNodeDeclarations,
  pidboxReplyDeclarations,
  rpcReplyQueue,
} from "../../src/transports/amqp/topology.js";
import type { AmqpTransport } from "../../src/transports/amqp/transport.js";
import { runPython } from "../support/celery.js";
import { makeTempDir } from "../support/ports.js";
import { type RabbitMqServer, startRabbitMq } from "../support/servers/rabbitmq.js";
import { uniqueName } from "../support/services.js";

let rabbit: RabbitMqServer;
let dir: string;

beforeAll(async () => {
  rabbit = await startRabbitMq();
  await rabbit.ctl(["add_vhost", "rev"]);
  await rabbit.ctl(["set_permissions", "-p", "rev", "guest", ".*", ".*", ".*"]);
  dir = makeTempDir("amqp-topology");
});

afterAll(async () => {
  await rabbit?.dispose();
});

interface QueueRow {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  arguments: unknown;
}

async function listQueues(vhost: string): Promise<Map<string, QueueRow>> {
  const out = await rabbit.ctl([
    "list_queues",
    "-p",
    vhost,
    "name",
    "durable",
    "auto_delete",
    "exclusive",
    "arguments",
    "--formatter",
    "json",
  ]);
  const rows = JSON.parse(out.stdout) as QueueRow[];
  return new Map(rows.map((r) => [r.name, r]));
}

/** rabbitmqctl's JSON gives the arguments table as [name, AMQP field type, value] triples; sorted by name. */
function args(row: QueueRow | undefined): unknown {
  const a = (row?.arguments ?? []) as Array<[string, string, unknown]>;
  return [...a].sort(([x], [y]) => x.localeCompare(y));
}

function flags(row: QueueRow | undefined): unknown {
  return (
    row && {
      durable: row.durable,
      auto_delete: row.auto_delete,
      exclusive: row.exclusive,
      arguments: args(row),
    }
  );
}

/**
 * Python (interop_app, Celery 5.7) declares what Celery declares, writes the
 * names to `ready`, and keeps its connection (and so its exclusive queues)
 * until `done` exists.
 */
const PY_DECLARE = `
import json, os, time
from interop_app import app
conn = app.connection_for_write()
conn.ensure_connection()
ch = conn.default_channel
for q in app.amqp.queues.values():
    q(ch).declare()
if os.environ.get("RPC_OID"):
    app.backend.__dict__["oid"] = os.environ["RPC_OID"]   # RPCBackend.oid is a cached_property
app.backend.binding(ch).declare()
mb = app.control.mailbox
node = os.environ["PIDBOX_NODE"]
mb.get_queue(node)(ch).declare()
mb.reply_queue(ch).declare()
recv = app.events.Receiver(conn, handlers={}, node_id=os.environ["EV_NODE"])
recv.queue(ch).declare()
names = {"task": app.conf.task_default_queue, "rpc": app.backend.oid,
         "pidbox": node + ".celery.pidbox", "reply": mb.reply_queue.name, "events": recv.queue.name}
with open(os.environ["READY_FILE"] + ".tmp", "w") as f:
    json.dump(names, f)
os.rename(os.environ["READY_FILE"] + ".tmp", os.environ["READY_FILE"])
deadline = time.time() + 60
while not os.path.exists(os.environ["DONE_FILE"]) and time.time() < deadline:
    time.sleep(0.05)
conn.release()
print("bye")
`;

interface PyNames {
  task: string;
  rpc: string;
  pidbox: string;
  reply: string;
  events: string;
}

function startPythonDeclarer(vhost: string, env: Record<string, string>) {
  const tag = uniqueName("py");
  const ready = join(dir, `${tag}.ready`);
  const done = join(dir, `${tag}.done`);
  const brokerUrl = `${rabbit.url}/${encodeURIComponent(vhost)}`;
  const run = runPython(PY_DECLARE, {
    brokerUrl,
    backendUrl: "rpc://",
    config: { task_queue_max_priority: 10 },
    env: { ...env, READY_FILE: ready, DONE_FILE: done },
  });
  return {
    async names(): Promise<PyNames> {
      for (;;) {
        if (existsSync(ready)) return JSON.parse(readFileSync(ready, "utf8")) as PyNames;
        const finished = await Promise.race([
          run.then((r) => r),
          new Promise((r) => setTimeout(() => r(null), 50)),
        ]);
        if (finished) throw new Error(`python declarer exited early: ${JSON.stringify(finished)}`);
      }
    },
    async finish() {
      writeFileSync(done, "");
      const result = await run;
      expect(result.code, result.stderr).toBe(0);
    },
  };
}

async function tsTransport(vhost: string): Promise<AmqpTransport> {
  return createAmqpTransport(`${rabbit.url}/${encodeURIComponent(vhost)}`, { taskQueueMaxPriority: 10 });
}

function taskSpec(name: string) {
  // Celery: Queue(task_default_queue, Exchange(task_default_exchange or queue, 'direct'), routing_key=queue)
  return { name, exchange: name, exchangeType: "direct" as const, routingKey: name };
}

describe("AMQP declarations vs Celery 5.7 on RabbitMQ", () => {
  it("Python declares first, TS declares the same entities without a 406, and the flags match", async () => {
    const defaultQueue = uniqueName("topo.task");
    const py = startPythonDeclarer("/", {
      CELERIAC_DEFAULT_QUEUE: defaultQueue,
      PIDBOX_NODE: `${uniqueName("pyw")}@host`,
      EV_NODE: uniqueName("pyev"),
    });
    const transport = await tsTransport("/");
    try {
      const names = await py.names();
      expect(names.task).toBe(defaultQueue);
      // Shared, non-exclusive entities: same names.
      await transport.declare([taskSpec(names.task)]);
      await transport.declareRaw("rpc", {
        exchanges: [],
        queues: [rpcReplyQueue(names.rpc, { durable: true })],
        bindings: [],
      });
      // Exclusive queues: same kind, our own names (exchanges are shared).
      const tsNode = `${uniqueName("tsw")}@host`;
      const tsOid = uniqueName("tsoid");
      const tsEv = uniqueName("tsev");
      await transport.declareRaw("pidbox", pidboxNodeDeclarations(tsNode));
      await transport.declareRaw("reply", pidboxReplyDeclarations(tsOid));
      await transport.declareRaw("events", eventReceiverDeclarations(tsEv));

      const rows = await listQueues("/");
      const task = rows.get(names.task);
      expect(flags(task)).toEqual({
        durable: true,
        auto_delete: false,
        exclusive: false,
        arguments: [["x-max-priority", "signedint", 10]],
      });
      expect(flags(rows.get(names.rpc))).toMatchObject({
        durable: true,
        auto_delete: true,
        exclusive: false,
      });
      const pairs: Array<[string, string]> = [
        [names.pidbox, `${tsNode}.celery.pidbox`],
        [names.reply, `${tsOid}.reply.celery.pidbox`],
        [names.events, `celeryev.${tsEv}`],
      ];
      for (const [pyName, tsName] of pairs) {
        expect(rows.get(pyName), pyName).toBeDefined();
        expect(flags(rows.get(tsName)), `${tsName} vs ${pyName}`).toEqual(flags(rows.get(pyName)));
      }
    } finally {
      await py.finish();
      await transport.close();
    }
  });

  it("TS declares first, Python (Celery 5.7) declares the same entities without a 406", async () => {
    const defaultQueue = uniqueName("topo.rev");
    const oid = uniqueName("revoid");
    const transport = await tsTransport("rev");
    try {
      await transport.declare([taskSpec(defaultQueue)]);
      await transport.declareRaw("rpc", {
        exchanges: [],
        queues: [rpcReplyQueue(oid, { durable: true })],
        bindings: [],
      });
      // The shared exchanges of the exclusive kinds, declared by TS first.
      await transport.declareRaw("pidbox", pidboxNodeDeclarations(`${uniqueName("tsw")}@host`));
      await transport.declareRaw("reply", pidboxReplyDeclarations(uniqueName("tsoid")));
      await transport.declareRaw("events", eventReceiverDeclarations(uniqueName("tsev")));
      const py = startPythonDeclarer("rev", {
        CELERIAC_DEFAULT_QUEUE: defaultQueue,
        RPC_OID: oid,
        PIDBOX_NODE: `${uniqueName("pyw")}@host`,
        EV_NODE: uniqueName("pyev"),
      });
      const names = await py.names();
      expect([names.task, names.rpc]).toEqual([defaultQueue, oid]);
      await py.finish();
      const rows = await listQueues("rev");
      expect(flags(rows.get(oid))).toEqual({
        durable: true,
        auto_delete: true,
        exclusive: false,
        arguments: [["x-expires", "signedint", 86400000]],
      });
      // The check has teeth: the same queue without task_queue_max_priority is refused.
      const plain = createAmqpTransport(`${rabbit.url}/rev`);
      try {
        await expect(plain.declare([taskSpec(defaultQueue)])).rejects.toThrow(/406|PRECONDITION/);
        await expect(plain.declare([taskSpec(defaultQueue)])).rejects.toBeInstanceOf(AmqpDeclarationError);
      } finally {
        await plain.close();
      }
    } finally {
      await transport.close();
    }
  });
});
