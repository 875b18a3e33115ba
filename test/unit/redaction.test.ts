/**
 * Credentials never reach a ConfigError or a ConnectionLostError raised by the library (not only
 * what the CLI prints): URLs with a password that are broken in every way a URL can be, a
 * password that fails to percent-decode, URLs without a scheme, and generated passwords.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConfigError, ConnectionLostError } from "../../src/errors.js";
import { redactUrl } from "../../src/redact.js";

const SECRET = "Pw9s3cret";

/** The error `new Celery(...)` throws for these settings (the test fails if it throws none). */
function configError(settings: { broker?: string; backend?: string }): ConfigError {
  try {
    new Celery(settings);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(settings)}`);
}

describe("ConfigError masks the password of a bad broker/backend URL", () => {
  const BAD = [
    `redis://:${SECRET}@host:notaport/0`,
    `redis://user:${SECRET}@host:99999/0`,
    `redis://:${SECRET}@host/notadb`,
    `redis://:${SECRET}%zz@host/0`,
    `redis://user%zz:${SECRET}@host/0`,
    `redis://:p@${SECRET}@host:x/0`,
    `redis://:${SECRET}/x@host:x/0`,
    `redis:/:${SECRET}@host/0`,
    `:${SECRET}@host/0`,
    `${SECRET}@host`,
    `redis+socket://:${SECRET}@`,
    `amqp://guest:${SECRET}%zz@host//`,
    `amqp://guest:${SECRET}@host:99999//`,
    `amqp:/guest:${SECRET}@host//`,
    `rediss://:${SECRET}@host/0?ssl_cert_reqs=bogus`,
    `redis://:${SECRET}@host/0?ssl_cert_reqs=CERT_NONE`,
  ];

  for (const url of BAD) {
    it(`broker ${url}`, () => {
      const err = configError({ broker: url });
      expect(err.option.startsWith("broker")).toBe(true);
      expect(err.message).not.toContain(SECRET);
    });
  }

  it("backend URLs too", () => {
    for (const url of BAD.filter((u) => !u.startsWith("amqp"))) {
      const err = configError({ broker: "redis://127.0.0.1:6379/0", backend: url });
      expect(err.message).not.toContain(SECRET);
    }
  });

  it("generated passwords in broken URLs never show", () => {
    const password = fc
      .string({ unit: fc.constantFrom(..."abcXYZ019@/:%?#!$&'()*+,;=-._~"), minLength: 1, maxLength: 12 })
      .map((tail) => `${SECRET}${tail}`);
    const shape = fc.constantFrom(
      (p: string) => `redis://:${p}@host:bad/0`,
      (p: string) => `redis://u:${p}@host/bad`,
      (p: string) => `amqp://u:${p}@host:0x//`,
      (p: string) => `amqp://u:${p};amqp://u:${p}@host:0x//`,
      (p: string) => `amqp://h1;amqp://u:${p}@h2:0x//`,
      (p: string) => `amqp://u:${p}@h1;;pyamqp://h2//`,
      (p: string) => `:${p}@host`,
      (p: string) => `redis:/:${p}@host`,
    );
    fc.assert(
      fc.property(password, shape, (p, make) => {
        const url = make(p);
        try {
          new Celery({ broker: url });
        } catch (err) {
          expect((err as Error).message).not.toContain(SECRET);
        }
      }),
    );
  });
});

describe("ConnectionLostError and ConfigError mask any URL in their message", () => {
  it("masks at construction, whoever builds the message", () => {
    expect(new ConnectionLostError(`redis://u:${SECRET}@h:1/0 is unreachable`).message).toBe(
      "redis://u:***@h:1/0 is unreachable",
    );
    expect(new ConfigError("broker", `bad amqps://u:p@${SECRET}@h//`).message).toBe("bad amqps://u:***@h//");
  });

  it("redactUrl: a password with @ or / is masked up to the URL's last @", () => {
    expect(redactUrl(`x redis://:a@${SECRET}@h/0 y`)).toBe("x redis://:***@h/0 y");
    expect(redactUrl(`"redis://:a/${SECRET}@h/0"`)).toBe('"redis://:***@h/0"');
  });
});
