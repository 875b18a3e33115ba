import { describe, expect, it } from "vitest";
import { CeleryError, ConfigError, DecodeError } from "../../../src/errors.js";
import {
  COMPRESSION_ALIASES,
  CodecUnavailableError,
  compress,
  compressionMime,
  decompress,
  zstdAvailable,
} from "../../../src/serialization/index.js";

// Streams that Python 3.11 produced for b"hello kombu" with the functions kombu registers
// (zlib.compress, bz2.compress, lzma.compress, lzma FORMAT_ALONE, brotli.compress).
const FROM_PYTHON: Array<[string, string]> = [
  ["application/x-gzip", "eJzLSM3JyVfIzs9NKgUAGb0EUw=="],
  ["application/x-bz2", "QlpoOTFBWSZTWZcySB8AAAGRgEAAEk6CACAAMQZMQQBmo3xqFQeLuSKcKEhLmSQPgA=="],
  [
    "application/x-lzma",
    "/Td6WFoAAATm1rRGAgAhARYAAAB0L+WjAQAKaGVsbG8ga29tYnUAANqUdYS78ev/AAEjC8Ib/QkftvN9AQAAAAAEWVo=",
  ],
  ["application/x-brotli", "CwWAaGVsbG8ga29tYnUD"],
];

describe("compression aliases (kombu/compression.py)", () => {
  it.each([
    ["zlib", "application/x-gzip"],
    ["gzip", "application/x-gzip"],
    ["bzip2", "application/x-bz2"],
    ["bzip", "application/x-bz2"],
    ["lzma", "application/x-lzma"],
    ["xz", "application/x-lzma"],
    ["brotli", "application/x-brotli"],
    ["zstd", "application/zstd"],
    ["zstandard", "application/zstd"],
    ["application/x-bz2", "application/x-bz2"],
  ])("%s -> %s", (name, mime) => {
    expect(compressionMime(name)).toBe(mime);
  });

  it("rejects an unknown name with a ConfigError listing the accepted ones", () => {
    expect(() => compressionMime("snappy", "taskCompression")).toThrow(ConfigError);
    expect(() => compress(Buffer.from("x"), "snappy")).toThrow(
      /zlib, gzip, bzip2, bzip, lzma, xz, brotli, zstd/,
    );
    expect(Object.keys(COMPRESSION_ALIASES)).toContain("zstandard");
  });

  it("an unknown name on an incoming message is a DecodeError", () => {
    expect(() => decompress(Buffer.from("x"), "application/snappy")).toThrow(DecodeError);
  });
});

describe("compress / decompress", () => {
  it("zlib/gzip writes a zlib stream (RFC 1950, 78 9c), not a gzip file", () => {
    const { data, mime } = compress(Buffer.from("[[2, 3], {}, {}]"), "gzip");
    expect(mime).toBe("application/x-gzip");
    expect(data.subarray(0, 2).toString("hex")).toBe("789c");
  });

  it("lzma/xz writes an .xz container", () => {
    expect(compress(Buffer.from("x"), "xz").data.subarray(0, 6).toString("hex")).toBe("fd377a585a00");
  });

  it("bzip2 writes a level-9 bzip2 stream", () => {
    expect(compress(Buffer.from("x"), "bzip2").data.subarray(0, 4).toString("latin1")).toBe("BZh9");
  });

  it.each(FROM_PYTHON)("reads Python's %s stream", (mime, b64) => {
    expect(decompress(Buffer.from(b64, "base64"), mime).toString()).toBe("hello kombu");
  });

  it("refuses Python's legacy .lzma (FORMAT_ALONE) stream of unknown size: it cannot be bounded", () => {
    // lzma.compress(b"hello kombu", format=lzma.FORMAT_ALONE); kombu itself writes .xz.
    const alone = Buffer.from("XQAAgAD//////////wA0GUnujekUQumWKh5xc7///AKAAA==", "base64");
    expect(() => decompress(alone, "application/x-lzma")).toThrow(/unknown size cannot be bounded/);
  });

  it.each(["zlib", "bzip2", "lzma", "brotli"])("%s round-trips empty and binary payloads", (name) => {
    for (const payload of [Buffer.alloc(0), Buffer.from([0, 1, 2, 255]), Buffer.alloc(300_000, 7)]) {
      const { data, mime } = compress(payload, name);
      expect(decompress(data, mime).equals(payload)).toBe(true);
    }
  });

  it.each(["zlib", "bzip2", "lzma", "brotli"])("%s: a corrupt stream is a DecodeError", (name) => {
    const { data, mime } = compress(Buffer.from("hello hello hello hello"), name);
    const corrupt = Buffer.from(data);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff;
    expect(() => decompress(corrupt.subarray(0, corrupt.length - 1), mime)).toThrow(DecodeError);
  });

  it("zstd either round-trips or refuses with a CeleryError naming the Node version it needs", () => {
    const payload = Buffer.from("zstd payload");
    if (zstdAvailable()) {
      const { data, mime } = compress(payload, "zstd");
      expect(mime).toBe("application/zstd");
      expect(decompress(data, "zstandard").equals(payload)).toBe(true);
    } else {
      expect(() => compress(payload, "zstd")).toThrow(CodecUnavailableError);
      expect(() => compress(payload, "zstd")).toThrow(/Node >= 22\.15/);
      expect(() => decompress(payload, "application/zstd")).toThrow(CeleryError);
    }
  });
});
