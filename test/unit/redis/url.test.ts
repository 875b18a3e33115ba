import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { describeEndpoint, parseRedisUrl } from "../../../src/transports/redis/url.js";

describe("parseRedisUrl", () => {
  it("reads host, port and db", () => {
    const e = parseRedisUrl("broker", "redis://example.org:6380/3");
    expect(e).toMatchObject({ kind: "tcp", host: "example.org", port: 6380, db: 3, tls: null });
  });

  it("defaults to port 6379 and db 0", () => {
    const e = parseRedisUrl("broker", "redis://localhost");
    expect([e.port, e.db]).toEqual([6379, 0]);
  });

  it("reads a password alone and a username with a password, percent-decoded", () => {
    expect(parseRedisUrl("broker", "redis://:s%40cret@h:1/0")).toMatchObject({
      username: null,
      password: "s@cret",
    });
    expect(parseRedisUrl("broker", "redis://alice:pw@h:1/2")).toMatchObject({
      username: "alice",
      password: "pw",
      db: 2,
    });
  });

  it("turns on TLS for rediss:// and reads Celery's ssl_* query args", () => {
    const e = parseRedisUrl(
      "backend",
      "rediss://h:6390/1?ssl_cert_reqs=CERT_REQUIRED&ssl_ca_certs=%2Ftmp%2Fca.crt&ssl_certfile=/c.pem&ssl_keyfile=/k.pem",
    );
    expect(e.tls).toEqual({
      sslCertReqs: "required",
      sslCaCerts: "/tmp/ca.crt",
      sslCertfile: "/c.pem",
      sslKeyfile: "/k.pem",
    });
    expect(parseRedisUrl("b", "rediss://h/0?ssl_cert_reqs=none").tls?.sslCertReqs).toBe("none");
  });

  it("merges the tls option object under the URL's query args", () => {
    const e = parseRedisUrl("broker", "rediss://h/0?ssl_cert_reqs=optional", {
      ca: "PEM",
      sslCertReqs: "none",
    });
    expect(e.tls).toEqual({ ca: "PEM", sslCertReqs: "optional" });
    expect(parseRedisUrl("broker", "redis://h/0", { ca: "PEM" }).tls).toEqual({ ca: "PEM" });
  });

  it("reads unix sockets with the db in virtual_host", () => {
    expect(parseRedisUrl("broker", "redis+socket:///tmp/r.sock?virtual_host=4")).toMatchObject({
      kind: "unix",
      path: "/tmp/r.sock",
      db: 4,
    });
    expect(parseRedisUrl("backend", "socket:///tmp/r.sock")).toMatchObject({ kind: "unix", db: 0 });
  });

  it.each([
    ["amqp://guest@localhost//", /scheme must be one of redis:\/\/, rediss:\/\//],
    ["localhost:6379", /scheme must be one of/],
    ["redis://h/abc", /database must be a non-negative integer/],
    ["redis://h:99999/0", /port|not a valid URL/],
    ["redis://h/0?ssl_cert_reqs=required", /need the rediss:\/\/ scheme/],
    ["rediss://h/0?ssl_cert_reqs=maybe", /CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE/],
    ["redis+socket://", /absolute socket path/],
  ])("rejects %s naming the option", (url, message) => {
    let caught: unknown;
    try {
      parseRedisUrl("broker", url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toMatch(message);
    expect((caught as ConfigError).message).toMatch(/^broker/);
  });

  it("masks the password when describing an endpoint", () => {
    expect(describeEndpoint(parseRedisUrl("broker", "redis://u:secret@h:7/1"))).toBe("redis://u:**@h:7/1");
  });
});
