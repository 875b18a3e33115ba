import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { amqpEndpointFromSettings } from "../../../src/transports/amqp/index.js";
import { describeAmqpEndpoint, parseAmqpUrl } from "../../../src/transports/amqp/url.js";

describe("AMQP URL parsing (kombu url_to_parts rules)", () => {
  it("reads user, password, host, port and vhost", () => {
    const e = parseAmqpUrl("broker", "amqp://alice:s%40cret@rabbit.local:5673/prod");
    expect(e).toMatchObject({
      tls: null,
      hostname: "rabbit.local",
      port: 5673,
      username: "alice",
      password: "s@cret",
      vhost: "prod",
    });
  });

  it("takes guest/guest, port 5672 and vhost / by default, as kombu does", () => {
    for (const url of ["amqp://localhost", "amqp://localhost/", "amqp://localhost//", "pyamqp://localhost"]) {
      const e = parseAmqpUrl("broker", url);
      expect([e.username, e.password, e.port, e.vhost]).toEqual(["guest", "guest", 5672, "/"]);
    }
  });

  it("URL-decodes the vhost: %2F is a slash", () => {
    expect(parseAmqpUrl("broker", "amqp://h/%2Fprod").vhost).toBe("/prod");
    expect(parseAmqpUrl("broker", "amqp://h/a%20b").vhost).toBe("a b");
  });

  it("turns TLS on for amqps:// with port 5671 and verifies by default", () => {
    const e = parseAmqpUrl("broker", "amqps://u:p@h");
    expect(e.port).toBe(5671);
    expect(e.tls).toEqual({ rejectUnauthorized: true });
  });

  it("maps Celery's broker_use_ssl dict (py-amqp names) and Celeriac's TlsSettings", () => {
    const py = parseAmqpUrl("broker", "amqp://h", {
      ssl: {
        ca_certs: "/ca.pem",
        certfile: "/c.pem",
        keyfile: "/k.pem",
        cert_reqs: 0,
        server_hostname: "rmq",
      },
    });
    expect(py.tls).toEqual({
      rejectUnauthorized: false,
      caPath: "/ca.pem",
      certPath: "/c.pem",
      keyPath: "/k.pem",
      servername: "rmq",
    });
    expect(py.port).toBe(5671); // pyamqp Transport: default_ssl_port when ssl is on and no port given
    const ts = parseAmqpUrl("broker", "amqps://h", {
      ssl: { sslCaCerts: "/ca.pem", sslCertReqs: "required" },
    });
    expect(ts.tls).toEqual({ rejectUnauthorized: true, caPath: "/ca.pem" });
  });

  it("reads ssl_* query options on amqps:// only", () => {
    const e = parseAmqpUrl("broker", "amqps://h?ssl_cert_reqs=CERT_NONE&ssl_ca_certs=/x.pem");
    expect(e.tls).toEqual({ rejectUnauthorized: false, caPath: "/x.pem" });
    expect(() => parseAmqpUrl("broker", "amqp://h?ssl_ca_certs=/x.pem")).toThrow(ConfigError);
  });

  it("reads heartbeat and connect_timeout from the query, else from the settings", () => {
    const q = parseAmqpUrl("broker", "amqp://h?heartbeat=30&connect_timeout=2.5");
    expect([q.heartbeat, q.connectTimeoutMs]).toEqual([30, 2500]);
    const s = amqpEndpointFromSettings("amqp://h", { brokerHeartbeat: 0, brokerConnectionTimeout: 1 });
    expect([s.heartbeat, s.connectTimeoutMs]).toEqual([0, 1000]);
  });

  it("rejects bad URLs with a ConfigError naming the option and the accepted forms", () => {
    const bad = [
      "redis://h",
      "amqp//h",
      "amqp://h:notaport",
      "amqp://h?heartbeat=x",
      "amqp://h?bogus=1",
      "amqp://a;amqp://b",
    ];
    for (const url of bad) {
      let caught: unknown;
      try {
        parseAmqpUrl("broker", url);
      } catch (err) {
        caught = err;
      }
      expect(caught, url).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).option).toBe("broker");
      expect((caught as Error).message).toContain("broker");
    }
    expect(() => parseAmqpUrl("broker", "redis://h")).toThrow(
      /amqp:\/\/host:port\/vhost or amqps:\/\/host:port\/vhost \(TLS\), with user:password@ before the host/,
    );
  });

  it("never shows the password when describing an endpoint", () => {
    const text = describeAmqpEndpoint(parseAmqpUrl("broker", "amqp://u:hunter2@h:1/v"));
    expect(text).not.toContain("hunter2");
    expect(text).toBe("amqp://u@h:1/v");
  });
});
