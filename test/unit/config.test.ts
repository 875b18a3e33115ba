import { describe, expect, it } from "vitest";
import type { CeleryOptions } from "../../src/config.js";
import { resolveSettings } from "../../src/config-checks.js";
import { KNOWN_OPTIONS } from "../../src/config-defaults.js";
import { ConfigError } from "../../src/errors.js";

function configError(options: unknown): ConfigError {
  try {
    resolveSettings(options as CeleryOptions);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("resolveSettings", () => {
  it("fills in Celery's defaults", () => {
    const s = resolveSettings();
    expect(s.taskDefaultQueue).toBe("celery");
    expect(s.taskDefaultExchange).toBe("celery");
    expect(s.taskDefaultRoutingKey).toBe("celery");
    expect(s.taskSerializer).toBe("json");
    expect(s.resultExpires).toBe(86400);
    expect(s.taskDefaultDeliveryMode).toBe(2);
    expect(s.brokerTransportOptions.prioritySteps).toEqual([0, 3, 6, 9]);
    expect(s.brokerTransportOptions.sep).toBe("\x06\x16");
    expect(s.brokerTransportOptions.visibilityTimeout).toBe(3600);
    expect(s.taskPublishRetryPolicy).toEqual({
      maxRetries: 3,
      intervalStart: 0,
      intervalStep: 0.2,
      intervalMax: 0.2,
    });
    expect(s.compat.minor).toBe("5.7");
    expect(s.backend).toBeNull();
  });

  it("derives the default exchange and routing key from a custom default queue", () => {
    const s = resolveSettings({ taskDefaultQueue: "work" });
    expect([s.taskDefaultExchange, s.taskDefaultRoutingKey]).toEqual(["work", "work"]);
  });

  it("merges transport options over the defaults", () => {
    const s = resolveSettings({ brokerTransportOptions: { globalKeyprefix: "pfx:", visibilityTimeout: 10 } });
    expect(s.brokerTransportOptions.globalKeyprefix).toBe("pfx:");
    expect(s.brokerTransportOptions.visibilityTimeout).toBe(10);
    expect(s.brokerTransportOptions.unackedKey).toBe("unacked");
  });

  it("maps delivery-mode names onto kombu's numbers", () => {
    expect(resolveSettings({ taskDefaultDeliveryMode: "transient" }).taskDefaultDeliveryMode).toBe(1);
  });

  it("lists every scalar default under a known option name", () => {
    expect(KNOWN_OPTIONS).toContain("resultExtended");
    expect(KNOWN_OPTIONS).toContain("brokerConnectionMaxRetries");
  });

  it.each([
    [{ taskSerializer: "pickle" }, "taskSerializer", /"json", "msgpack", "yaml"/],
    [{ taskCompression: "lz4" }, "taskCompression", /"zlib".*"bzip2".*"xz"/],
    [{ resultExpires: -1 }, "resultExpires", />= 0 or null/],
    [{ brokerConnectionMaxRetries: 1.5 }, "brokerConnectionMaxRetries", /integer/],
    [{ taskDefaultQueu: "x" }, "taskDefaultQueu", /unknown setting/],
    [
      { brokerTransportOptions: { visibility_timeout: 1 } },
      "brokerTransportOptions.visibility_timeout",
      /accepted: globalKeyprefix/,
    ],
    [
      { brokerTransportOptions: { prioritySteps: [3, 1] } },
      "brokerTransportOptions.prioritySteps",
      /ascending/,
    ],
    [{ compat: "4.4" }, "compat", /"5.2".*"5.7"/],
    [{ acceptContent: ["json", "pickle"] }, "acceptContent", /list of "json", "msgpack", "yaml"/],
    [
      { brokerUseSsl: { sslCertReqs: "sometimes" } },
      "brokerUseSsl.sslCertReqs",
      /"required", "optional", "none"/,
    ],
    [{ taskRoutes: { "a.*": 5 } }, "taskRoutes", /queue name or/],
    [{ taskDefaultDeliveryMode: 3 }, "taskDefaultDeliveryMode", /"persistent", "transient", 1, 2/],
  ])("rejects %o naming %s and what it accepts", (options, option, accepted) => {
    const err = configError(options);
    expect(err.option).toBe(option);
    expect(err.message).toContain(option);
    expect(err.message).toMatch(accepted);
  });
});
