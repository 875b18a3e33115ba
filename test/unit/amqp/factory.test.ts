import { describe, expect, it } from "vitest";
import { resolveSettings } from "../../../src/config-checks.js";
import { createAmqpTransport } from "../../../src/transports/amqp/index.js";

describe("createAmqpTransport", () => {
  it("takes the app's resolved Settings as they are (no connection until first use)", async () => {
    const settings = resolveSettings({
      broker: "amqps://u:p@rabbit:5999/prod",
      brokerHeartbeat: 30,
      brokerConnectionTimeout: 2,
      taskDefaultQueue: "jobs",
    });
    const transport = createAmqpTransport(settings.broker, settings);
    expect(transport.endpoint).toMatchObject({
      hostname: "rabbit",
      port: 5999,
      vhost: "prod",
      heartbeat: 30,
    });
    expect(transport.endpoint.connectTimeoutMs).toBe(2000);
    expect(transport.topology).toMatchObject({ defaultQueue: "jobs", defaultExchange: "jobs" });
    expect(transport.capabilities).toEqual({ priority: "higher-first", fanout: true, messageTtl: true });
    await transport.close();
  });
});
