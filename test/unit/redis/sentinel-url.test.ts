import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { Celery } from "../../../src/index.js";
import { redisOptions } from "../../../src/transports/redis/connection.js";
import { describeEndpoint, parseRedisUrl, type SentinelOptions } from "../../../src/transports/redis/url.js";

const BROKER: SentinelOptions = {
  optionsName: "brokerTransportOptions",
  masterName: "mymaster",
  sentinelKwargs: null,
  defaultPort: 26379,
};

/** The ConfigError `run` throws (the test fails when it throws none). */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("sentinel:// URLs (kombu SentinelChannel, Celery SentinelBackend)", () => {
  it("reads every ;-separated Sentinel, and the master's password and db from the first part", () => {
    const e = parseRedisUrl("broker", "sentinel://:s%40cret@h1:26380/3;sentinel://h2:26381", null, BROKER);
    expect(e).toMatchObject({ kind: "sentinel", db: 3, username: null, password: "s@cret", tls: null });
    expect(e.sentinel).toEqual({
      sentinels: [
        { host: "h1", port: 26380 },
        { host: "h2", port: 26381 },
      ],
      masterName: "mymaster",
      sentinelKwargs: null,
    });
  });

  it("gives a Sentinel without a port kombu's 26379 for the broker and Celery's redis_port 6379 for the backend", () => {
    const url = "sentinel://h1;sentinel://h2:26390/0";
    expect(parseRedisUrl("broker", url, null, BROKER).sentinel?.sentinels).toEqual([
      { host: "h1", port: 26379 },
      { host: "h2", port: 26390 },
    ]);
    const backend = { ...BROKER, optionsName: "resultBackendTransportOptions", defaultPort: 6379 };
    expect(parseRedisUrl("backend", url, null, backend).sentinel?.sentinels[0]).toEqual({
      host: "h1",
      port: 6379,
    });
  });

  it("builds ioredis Sentinel options: sentinels, master name, Sentinel credentials apart from the master's", () => {
    const e = parseRedisUrl("broker", "sentinel://u:pw@h1:1/2;sentinel://h2:2", null, {
      ...BROKER,
      sentinelKwargs: { username: "su", password: "spw" },
    });
    const o = redisOptions(e);
    expect(o).toMatchObject({
      sentinels: [
        { host: "h1", port: 1 },
        { host: "h2", port: 2 },
      ],
      name: "mymaster",
      db: 2,
      username: "u",
      password: "pw",
      sentinelUsername: "su",
      sentinelPassword: "spw",
    });
    expect(o.host).toBeUndefined();
    expect(o.sentinelRetryStrategy?.(1)).toBeNull();
  });

  it("describes the endpoint with the password masked and the master named", () => {
    const e = parseRedisUrl("broker", "sentinel://:topsecret@h1:1/0;sentinel://h2:2", null, BROKER);
    expect(describeEndpoint(e)).toBe('sentinel://:**@h1:1;sentinel://h2:2/0 (master "mymaster")');
  });

  it("refuses a Sentinel URL without masterName, naming the option and masking the password", () => {
    const err = configError(() =>
      parseRedisUrl("broker", "sentinel://:topsecret@h1:1;sentinel://:other@h2:2", null, {
        ...BROKER,
        masterName: null,
      }),
    );
    expect(err.option).toBe("brokerTransportOptions.masterName");
    expect(err.message).toMatch(/brokerTransportOptions\.masterName.*master_name/);
    expect(err.message).not.toMatch(/topsecret|other/);
  });

  it("refuses a part that is not sentinel://, an unparsable part, TLS, and use where Sentinels are not read", () => {
    expect(
      configError(() => parseRedisUrl("broker", "sentinel://h1:1;redis://h2:2", null, BROKER)).message,
    ).toMatch(/every ;-separated part/);
    const bad = configError(() => parseRedisUrl("broker", "sentinel://:pw@h1:99999/0", null, BROKER));
    expect(bad.message).toMatch(/cannot parse Sentinel URL.*not a valid URL/);
    expect(bad.message).not.toContain(":pw@");
    expect(configError(() => parseRedisUrl("broker", "sentinel://h1:1/x", null, BROKER)).message).toMatch(
      /database/,
    );
    expect(configError(() => parseRedisUrl("broker", "sentinel://h1:1", {}, BROKER)).message).toMatch(/TLS/);
    expect(configError(() => parseRedisUrl("redbeatRedisUrl", "sentinel://h1:1")).option).toBe(
      "redbeatRedisUrl",
    );
  });

  it("never puts a password into a parse error (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 6, maxLength: 20 }).filter((s) => /^[A-Za-z0-9]+$/.test(s)),
        fc.constantFrom("99999", "x", "", "-1"),
        fc.boolean(),
        (password, port, withMaster) => {
          const url = `sentinel://:${password}@h1:${port}/0;sentinel://:${password}@h2`;
          try {
            parseRedisUrl("broker", url, null, { ...BROKER, masterName: withMaster ? "m" : null });
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            expect((err as Error).message).not.toContain(password);
          }
        },
      ),
    );
  });

  it("checks the Sentinel settings at app construction, broker and backend apart", () => {
    const url = "sentinel://:pw@127.0.0.1:26379/0";
    const broker = configError(() => new Celery({ broker: url }));
    expect(broker.option).toBe("brokerTransportOptions.masterName");
    const backend = configError(
      () => new Celery({ broker: url, brokerTransportOptions: { masterName: "m" }, backend: url }),
    );
    expect(backend.option).toBe("resultBackendTransportOptions.masterName");
    expect(
      configError(() => new Celery({ brokerTransportOptions: { sentinelKwargs: { passwd: "x" } as object } }))
        .option,
    ).toBe("brokerTransportOptions.sentinelKwargs.passwd");
    const app = new Celery({
      broker: url,
      backend: url,
      brokerTransportOptions: { masterName: "m" },
      resultBackendTransportOptions: { masterName: "m", sentinelKwargs: { password: "s" } },
    });
    expect(app.settings.resultBackendTransportOptions.masterName).toBe("m");
  });
});
