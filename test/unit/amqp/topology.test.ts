import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import {
  DEFAULT_TASK_TOPOLOGY,
  defaultTaskExchange,
  eventReceiverDeclarations,
  pidboxNodeDeclarations,
  pidboxReplyDeclarations,
  rabbitmqQueueArguments,
  rpcReplyQueue,
  taskQueueDeclarations,
} from "../../../src/transports/amqp/topology.js";
import type { QueueSpec } from "../../../src/transports/transport.js";

// Expected tables are what Celery 5.7 declared on RabbitMQ 3.10, as listed by
// `rabbitmqctl list_queues name durable auto_delete exclusive arguments`
// (docs/wire.md, "Events and remote control"). The interop test
// test/interop/amqp-topology.test.ts re-checks them against a live Celery.

const celeryQueue: QueueSpec = {
  name: "celery",
  exchange: "celery",
  exchangeType: "direct",
  routingKey: "celery",
};

describe("task queue declarations (celery/app/amqp.py Queues)", () => {
  it("default exchange celery: direct, durable, not auto-delete", () => {
    expect(defaultTaskExchange()).toEqual({
      name: "celery",
      type: "direct",
      durable: true,
      autoDelete: false,
    });
  });

  it("queue celery: durable, not exclusive, not auto-delete, no arguments, bound by its routing key", () => {
    expect(taskQueueDeclarations(celeryQueue)).toEqual({
      exchanges: [{ name: "celery", type: "direct", durable: true, autoDelete: false }],
      queues: [{ name: "celery", durable: true, exclusive: false, autoDelete: false, arguments: {} }],
      bindings: [{ queue: "celery", exchange: "celery", routingKey: "celery" }],
    });
  });

  it("a queue on the default exchange is declared but not bound", () => {
    const d = taskQueueDeclarations({ ...celeryQueue, name: "q1", exchange: "", routingKey: "q1" });
    expect(d.exchanges).toEqual([]);
    expect(d.bindings).toEqual([]);
    expect(d.queues.map((q) => q.name)).toEqual(["q1"]);
  });

  it("task_queue_max_priority adds x-max-priority unless the queue has one", () => {
    const settings = { ...DEFAULT_TASK_TOPOLOGY, queueMaxPriority: 10 };
    expect(taskQueueDeclarations(celeryQueue, settings).queues[0]?.arguments).toEqual({
      "x-max-priority": 10,
    });
    const own = { ...celeryQueue, arguments: { "x-max-priority": 3 } };
    expect(taskQueueDeclarations(own, settings).queues[0]?.arguments).toEqual({ "x-max-priority": 3 });
  });

  it("task_default_queue_type=quorum marks only the default queue", () => {
    const settings = { ...DEFAULT_TASK_TOPOLOGY, defaultQueueType: "quorum" as const };
    expect(taskQueueDeclarations(celeryQueue, settings).queues[0]?.arguments).toEqual({
      "x-queue-type": "quorum",
    });
    const other = { ...celeryQueue, name: "other" };
    expect(taskQueueDeclarations(other, settings).queues[0]?.arguments).toEqual({});
    expect(() => taskQueueDeclarations({ ...celeryQueue, autoDelete: true }, settings)).toThrow(ConfigError);
  });

  it("an exclusive queue is auto-delete too (kombu Queue.__init__)", () => {
    const q = taskQueueDeclarations({ ...celeryQueue, name: "x", exclusive: true }).queues[0];
    expect([q?.exclusive, q?.autoDelete]).toEqual([true, true]);
  });

  it("kombu queue options become x-arguments in int milliseconds", () => {
    expect(
      rabbitmqQueueArguments(
        { "x-dead-letter-exchange": "dlx" },
        {
          expires: 1.5,
          messageTtl: 60,
          maxLength: 100,
          maxPriority: 9,
        },
      ),
    ).toEqual({
      "x-dead-letter-exchange": "dlx",
      "x-expires": 1500,
      "x-message-ttl": 60000,
      "x-max-length": 100,
      "x-max-priority": 9,
    });
    expect(rabbitmqQueueArguments(undefined, { expires: null })).toEqual({});
  });
});

describe("RPC reply queue (celery/backends/rpc.py RPCBackend.binding)", () => {
  it("5.7: durable, auto-delete, not exclusive, x-expires = result_expires ms", () => {
    expect(rpcReplyQueue("oid-1", { durable: true })).toEqual({
      name: "oid-1",
      durable: true,
      exclusive: false,
      autoDelete: true,
      arguments: { "x-expires": 86400000 },
    });
  });
  it("5.2-5.6: not durable; result_expires None sends no x-expires", () => {
    expect(rpcReplyQueue("o", { durable: false, resultExpires: null })).toMatchObject({
      durable: false,
      arguments: {},
    });
  });
});

describe("pidbox and events (kombu/pidbox.py Mailbox, celery/events/receiver.py)", () => {
  it("worker mailbox: fanout non-durable exchange, exclusive auto-delete queue with x-expires 10000 / x-message-ttl 300000", () => {
    expect(pidboxNodeDeclarations("w1@h")).toEqual({
      exchanges: [{ name: "celery.pidbox", type: "fanout", durable: false, autoDelete: false }],
      queues: [
        {
          name: "w1@h.celery.pidbox",
          durable: false,
          exclusive: true,
          autoDelete: true,
          arguments: { "x-expires": 10000, "x-message-ttl": 300000 },
        },
      ],
      bindings: [{ queue: "w1@h.celery.pidbox", exchange: "celery.pidbox", routingKey: "" }],
    });
  });

  it("reply mailbox: direct non-durable exchange, queue <oid>.reply.celery.pidbox bound by oid", () => {
    const d = pidboxReplyDeclarations("abc");
    expect(d.exchanges).toEqual([
      { name: "reply.celery.pidbox", type: "direct", durable: false, autoDelete: false },
    ]);
    expect(d.queues[0]).toMatchObject({ name: "abc.reply.celery.pidbox", exclusive: true, autoDelete: true });
    expect(d.bindings).toEqual([
      { queue: "abc.reply.celery.pidbox", exchange: "reply.celery.pidbox", routingKey: "abc" },
    ]);
    expect(pidboxReplyDeclarations("abc", { exclusive: false }).queues[0]?.exclusive).toBe(false);
  });

  it("event receiver: topic durable celeryev, celeryev.<id> bound with #, ttl 5 s, expires 60 s", () => {
    const d = eventReceiverDeclarations("n1");
    expect(d.exchanges).toEqual([{ name: "celeryev", type: "topic", durable: true, autoDelete: false }]);
    expect(d.queues[0]).toEqual({
      name: "celeryev.n1",
      durable: false,
      exclusive: true,
      autoDelete: true,
      arguments: { "x-message-ttl": 5000, "x-expires": 60000 },
    });
    expect(d.bindings).toEqual([{ queue: "celeryev.n1", exchange: "celeryev", routingKey: "#" }]);
  });
});
