/**
 * Native delayed delivery, the pure parts: when a producer routes a task through the delay levels
 * (celery/app/base.py send_task), the key encoding's limits, and the declarations' shape. The
 * declarations themselves are compared with a real Celery 5.7 worker's in
 * test/interop/quorum-delayed-amqp.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { ConfigError } from "../../../src/errors.js";
import {
  calculateRoutingKey,
  DELAYED_PUBLISH_EXCHANGE,
  delayedDeliveryBindings,
  MAX_NATIVE_DELAY_SECONDS,
  nativeDelayedDeliveryDeclarations,
} from "../../../src/transports/amqp/native-delayed-delivery.js";
import { brokerNativeDelay } from "../../../src/transports/factory.js";
import type { EtaMessage, QueueSpec } from "../../../src/transports/transport.js";

const quorumTopic: QueueSpec = {
  name: "q",
  exchange: "q",
  exchangeType: "topic",
  routingKey: "q",
  arguments: { "x-queue-type": "quorum" },
};
const base = {
  broker: "amqp://h",
  appQueues: [quorumTopic],
  queue: quorumTopic,
  countdown: 10,
  etaGiven: false,
  eta: "2030-01-01T00:00:10+00:00",
  now: Date.parse("2030-01-01T00:00:00Z"),
};

/** The question as the producer asks it: a message with an eta, to the broker's native delay if any. */
function nativeDelayRoute(
  input: Omit<EtaMessage, "eta"> & { broker: string; appQueues: QueueSpec[]; eta: string | null },
) {
  const { broker, appQueues, eta, ...message } = input;
  if (eta === null) return null;
  return brokerNativeDelay(broker, appQueues)?.({ ...message, eta }) ?? null;
}

describe("nativeDelayRoute (send_task's quorum branch)", () => {
  it("routes a countdown on a quorum app through celery_delayed_27 with the delay in binary", () => {
    expect(nativeDelayRoute(base)).toEqual({
      exchange: DELAYED_PUBLISH_EXCHANGE,
      routingKey: `${"0.".repeat(24)}1.0.1.0.q`,
    });
  });

  it("an eta counts from now, whole seconds", () => {
    const r = nativeDelayRoute({
      ...base,
      countdown: undefined,
      etaGiven: true,
      eta: "2030-01-01T00:00:03.900Z",
    });
    expect(r?.routingKey).toBe(calculateRoutingKey(3, "q"));
  });

  it("publishes at once: no eta, Redis broker, no quorum queue in the app, direct exchange, under 1 s", () => {
    expect(nativeDelayRoute({ ...base, eta: null, countdown: undefined })).toBeNull();
    expect(nativeDelayRoute({ ...base, broker: "redis://h" })).toBeNull();
    expect(nativeDelayRoute({ ...base, appQueues: [{ ...quorumTopic, arguments: {} }] })).toBeNull();
    expect(nativeDelayRoute({ ...base, queue: { ...quorumTopic, exchangeType: "direct" } })).toBeNull();
    expect(nativeDelayRoute({ ...base, countdown: 0.5 })).toBeNull();
  });

  it("a delay past 2^28 - 1 s is a ConfigError naming countdown", () => {
    expect(() => nativeDelayRoute({ ...base, countdown: MAX_NATIVE_DELAY_SECONDS + 1 })).toThrow(ConfigError);
    expect(calculateRoutingKey(MAX_NATIVE_DELAY_SECONDS, "q")).toBe(`${"1.".repeat(28)}q`);
  });

  it("the app's sendTask message goes to the delay exchange only with quorum + topic", () => {
    const quorum = new Celery({
      broker: "amqp://h",
      taskDefaultQueueType: "quorum",
      taskDefaultExchangeType: "topic",
    });
    const delayed = quorum.prepareTask("t", [], {}, { countdown: 5 });
    expect(delayed.message.exchange).toBe(DELAYED_PUBLISH_EXCHANGE);
    expect(delayed.message.routingKey).toBe(calculateRoutingKey(5, "celery"));
    expect(delayed.declare[0]?.arguments).toEqual({ "x-queue-type": "quorum" });
    const classic = new Celery({ broker: "amqp://h", taskDefaultExchangeType: "topic" });
    expect(classic.prepareTask("t", [], {}, { countdown: 5 }).message.exchange).toBe("celery");
  });
});

describe("native delay as a transport capability", () => {
  it("the AMQP transport answers as the app's wired function does; Redis offers none", async () => {
    const quorum = new Celery({
      broker: "amqp://h",
      taskDefaultQueueType: "quorum",
      taskDefaultExchangeType: "topic",
    });
    const message: EtaMessage = { ...base, queue: quorum.router.queue("celery") };
    expect(quorum.transport.nativeDelay?.(message)).toEqual({
      exchange: DELAYED_PUBLISH_EXCHANGE,
      routingKey: calculateRoutingKey(10, "celery"),
    });
    expect(quorum.nativeDelay?.(message)).toEqual(quorum.transport.nativeDelay?.(message));
    const redis = new Celery({ broker: "redis://127.0.0.1:1/0" });
    expect(redis.nativeDelay).toBeUndefined();
    expect(redis.transport.nativeDelay).toBeUndefined();
    await Promise.all([quorum.close(), redis.close()]);
  });
});

describe("declarations", () => {
  it("28 levels, each TTL 2^L s, dead-lettered one level down, the last to the delivery exchange", () => {
    const d = nativeDelayedDeliveryDeclarations("quorum");
    expect(d.queues).toHaveLength(28);
    expect(d.exchanges.map((e) => e.name)).toContain("celery_delayed_delivery");
    expect(d.exchangeBindings).toHaveLength(28);
    const level0 = d.queues.find((q) => q.name === "celery_delayed_0");
    expect(level0?.arguments).toEqual({
      "x-queue-type": "quorum",
      "x-overflow": "reject-publish",
      "x-message-ttl": 1000,
      "x-dead-letter-exchange": "celery_delayed_delivery",
      "x-dead-letter-strategy": "at-least-once",
    });
    const classic = nativeDelayedDeliveryDeclarations("classic").queues[0]?.arguments;
    expect(classic?.["x-dead-letter-strategy"]).toBeUndefined();
    expect(() => nativeDelayedDeliveryDeclarations("stream" as "quorum")).toThrow(ConfigError);
  });

  it("a queue's delivery binding is #.<key>; a direct exchange gets none", () => {
    expect(delayedDeliveryBindings(quorumTopic)).toEqual({
      exchanges: [],
      queues: [],
      bindings: [{ queue: "q", exchange: "q", routingKey: "#.q" }],
      exchangeBindings: [{ destination: "q", source: "celery_delayed_delivery", routingKey: "#.q" }],
    });
    expect(delayedDeliveryBindings({ ...quorumTopic, routingKey: "#" })?.bindings[0]?.routingKey).toBe("#");
    expect(delayedDeliveryBindings({ ...quorumTopic, exchangeType: "direct" })).toBeNull();
  });
});
