import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import { ConfigError, ContentDisallowedError, DecodeError, EncodeError } from "../../../src/errors.js";
import {
  AcceptPolicy,
  CONTENT_TYPES,
  deserialize,
  PyDecimal,
  serialize,
} from "../../../src/serialization/index.js";

const utf8 = (s: string) => Buffer.from(s, "utf8");

describe("serialize: kombu content types", () => {
  it("names json, msgpack and yaml as kombu's registry does", () => {
    expect(serialize([1], "json")).toMatchObject({
      contentType: "application/json",
      contentEncoding: "utf-8",
    });
    expect(serialize([1], "msgpack")).toMatchObject({
      contentType: "application/x-msgpack",
      contentEncoding: "binary",
    });
    expect(serialize([1], "yaml")).toMatchObject({
      contentType: "application/x-yaml",
      contentEncoding: "utf-8",
    });
  });

  it("writes the v2 body as kombu does", () => {
    expect(serialize([[2, 3], {}, { callbacks: null }], "json").body.toString("utf8")).toBe(
      '[[2, 3], {}, {"callbacks": null}]',
    );
  });

  it("uses plain JSON under compat 5.2", () => {
    const body = serialize([new PyDecimal("1.5")], "json", { compat: compatProfile("5.2") }).body.toString();
    expect(body).toBe('["1.5"]');
  });

  it("rejects unknown serializers with a ConfigError naming the option and the accepted values", () => {
    expect(() => serialize(1, "bson", { option: "taskSerializer" })).toThrow(ConfigError);
    expect(() => serialize(1, "bson", { option: "taskSerializer" })).toThrow(
      /taskSerializer.*json, msgpack, yaml/,
    );
    expect(() => serialize(1, "pickle")).toThrow(/serializer.*pickle is Python-only/);
  });

  it("turns a value the serializer cannot carry into an EncodeError", () => {
    expect(() => serialize({ when: new Date(0) }, "msgpack")).toThrow(EncodeError);
    expect(() => serialize({ d: new PyDecimal("1") }, "yaml")).toThrow(EncodeError);
  });
});

describe("AcceptPolicy (Celery accept_content, kombu prepare_accept_content)", () => {
  it("defaults to json only", () => {
    const accept = AcceptPolicy.from();
    expect([...accept.contentTypes]).toEqual(["application/json"]);
    expect(accept.allows("application/json")).toBe(true);
    expect(accept.allows("application/x-yaml")).toBe(false);
  });

  it("maps names and keeps MIME types", () => {
    const accept = AcceptPolicy.from(["msgpack", "application/x-yaml", "pickle"]);
    expect([...accept.contentTypes]).toEqual([
      CONTENT_TYPES.msgpack,
      "application/x-yaml",
      "application/x-python-serialize",
    ]);
  });

  it("compares exactly: a charset parameter is another type", () => {
    expect(AcceptPolicy.from(["json"]).allows("application/json; charset=utf-8")).toBe(false);
  });

  it("always trusts application/data and application/text", () => {
    const accept = AcceptPolicy.from([]);
    expect(accept.allows("application/data")).toBe(true);
    expect(accept.allows("application/text")).toBe(true);
  });

  it("rejects an unknown name with a ConfigError naming the option", () => {
    expect(() => AcceptPolicy.from(["jsn"], "resultAcceptContent")).toThrow(/resultAcceptContent.*"jsn"/);
  });
});

describe("deserialize (kombu registry.loads)", () => {
  const json = AcceptPolicy.from(["json"]);

  it("decodes an accepted body", () => {
    expect(deserialize(utf8('{"a": [1, 2]}'), "application/json", "utf-8", json)).toEqual({ a: [1, 2] });
  });

  it("refuses a content type outside the accept list, in kombu's words", () => {
    const run = () => deserialize(utf8("a: 1"), "application/x-yaml", "utf-8", json);
    expect(run).toThrow(ContentDisallowedError);
    expect(run).toThrow("Refusing to deserialize untrusted content of type yaml (application/x-yaml)");
  });

  it("refuses application/json; charset=utf-8 (Celery rejects it as disallowed content: docs/wire.md)", () => {
    expect(() => deserialize(utf8("[]"), "application/json; charset=utf-8", "utf-8", json)).toThrow(
      ContentDisallowedError,
    );
  });

  it("refuses pickle even when accepted, saying why", () => {
    const accept = AcceptPolicy.from(["json", "pickle"]);
    const run = () =>
      deserialize(new Uint8Array([0x80, 4]), "application/x-python-serialize", "binary", accept);
    expect(run).toThrow(ContentDisallowedError);
    expect(run).toThrow(/cannot unpickle/);
    expect(() =>
      deserialize(new Uint8Array([0x80]), "application/x-python-serialize", "binary", json),
    ).toThrow("Refusing to deserialize untrusted content of type pickle (application/x-python-serialize)");
  });

  it("passes trusted raw content through: bytes for binary, text otherwise", () => {
    const raw = new Uint8Array([0, 255]);
    expect(deserialize(raw, "application/data", "binary", json)).toBe(raw);
    expect(deserialize(utf8("héllo"), "application/text", "utf-8", json)).toBe("héllo");
    expect(deserialize(raw, "", "binary", json)).toBe(raw); // no content type means application/data
  });

  it("returns an empty body as is, as kombu skips decoding falsy data", () => {
    const empty = new Uint8Array(0);
    expect(deserialize(empty, "application/json", "utf-8", json)).toBe(empty);
  });

  it("raises DecodeError for invalid UTF-8, a BOM, or broken JSON", () => {
    expect(() => deserialize(new Uint8Array([0xc3, 0x28]), "application/json", "utf-8", json)).toThrow(
      DecodeError,
    );
    expect(() => deserialize(utf8("\ufeff[]"), "application/json", "utf-8", json)).toThrow(DecodeError);
    expect(() => deserialize(utf8("[1,"), "application/json", "utf-8", json)).toThrow(DecodeError);
  });

  it("leaves kombu markers as plain objects under compat 5.2", () => {
    const body = utf8('{"__type__": "decimal", "__value__": "1"}');
    expect(deserialize(body, "application/json", "utf-8", json, { compat: compatProfile("5.2") })).toEqual({
      __type__: "decimal",
      __value__: "1",
    });
    expect(deserialize(body, "application/json", "utf-8", json)).toEqual(new PyDecimal("1"));
  });
});
