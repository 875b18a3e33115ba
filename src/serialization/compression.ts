/**
 * Message compression as kombu does it (kombu/compression.py `register`, `compress`,
 * `decompress`, 5.7.0). A compressed message keeps its `content_type` and
 * `content_encoding` for the uncompressed payload and names the method in
 * `headers["compression"]` by its MIME type; readers accept an alias or the MIME type.
 *
 * | aliases            | MIME (header value)    | format                                        |
 * |--------------------|------------------------|-----------------------------------------------|
 * | `zlib`, `gzip`     | `application/x-gzip`   | zlib stream (RFC 1950), NOT a gzip file        |
 * | `bzip2`, `bzip`    | `application/x-bz2`    | bzip2 stream (`bz2.compress`, level 9)         |
 * | `lzma`, `xz`       | `application/x-lzma`   | .xz container (`lzma.compress`, FORMAT_XZ)     |
 * | `brotli`           | `application/x-brotli` | brotli stream                                 |
 * | `zstd`, `zstandard`| `application/zstd`     | one zstd frame (needs Node >= 22.15 here)     |
 */

import * as zlib from "node:zlib";
import type { Bzip2Codec } from "compressjs";
import { CeleryError, ConfigError, DecodeError } from "../errors.js";
import { loadDependency } from "../optional-deps.js";
import { BudgetExceededError, DEFAULT_WIRE_BUDGET, decompressedTooLarge } from "./budget.js";
import { lzmaDecompressedSize } from "./xz-size.js";

// The two codecs outside node:zlib load on the first message that uses them.
const bzip2 = (): Bzip2Codec =>
  loadDependency<{ Bzip2: Bzip2Codec }>("compressjs", "bzip2 compression (application/x-bz2)").Bzip2;
const lzma = () =>
  loadDependency<typeof import("@napi-rs/lzma")>("@napi-rs/lzma", "xz/lzma compression (application/x-lzma)");

export type CompressionMime =
  | "application/x-gzip"
  | "application/x-bz2"
  | "application/x-lzma"
  | "application/x-brotli"
  | "application/zstd";

/** kombu/compression.py aliases (name or MIME type both accepted, as kombu's `get_encoder` does). */
export const COMPRESSION_NAMES = [
  "zlib",
  "gzip",
  "bzip2",
  "bzip",
  "lzma",
  "xz",
  "brotli",
  "zstd",
  "zstandard",
  "application/x-gzip",
  "application/x-bz2",
  "application/x-lzma",
  "application/x-brotli",
  "application/zstd",
] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/** kombu's `_aliases`: every accepted name, MIME types included (they map to themselves). */
export const COMPRESSION_ALIASES: Readonly<Record<string, CompressionMime>> = Object.freeze({
  zlib: "application/x-gzip",
  gzip: "application/x-gzip",
  bzip2: "application/x-bz2",
  bzip: "application/x-bz2",
  lzma: "application/x-lzma",
  xz: "application/x-lzma",
  brotli: "application/x-brotli",
  zstd: "application/zstd",
  zstandard: "application/zstd",
  "application/x-gzip": "application/x-gzip",
  "application/x-bz2": "application/x-bz2",
  "application/x-lzma": "application/x-lzma",
  "application/x-brotli": "application/x-brotli",
  "application/zstd": "application/zstd",
} satisfies Record<CompressionName, CompressionMime>);

/** A codec this Node cannot run (zstd before Node 22.15). Not a bad message, not a bad setting. */
export class CodecUnavailableError extends CeleryError {
  readonly codec: string;

  constructor(codec: string, message: string) {
    super("ERR_CODEC_UNAVAILABLE", message);
    this.codec = codec;
  }
}

type ZstdFns = {
  compress: (b: Uint8Array) => Buffer;
  decompress: (b: Uint8Array, options: { maxOutputLength: number }) => Buffer;
};

/** node:zlib gained zstdCompressSync/zstdDecompressSync in Node 22.15 / 23.8. */
function zstd(): ZstdFns | undefined {
  const lib = zlib as unknown as Record<string, unknown>;
  const compress = lib.zstdCompressSync;
  const decompress = lib.zstdDecompressSync;
  if (typeof compress !== "function" || typeof decompress !== "function") return undefined;
  return {
    compress: (b) => compress.call(zlib, b) as Buffer,
    decompress: (b, options) => decompress.call(zlib, b, options) as Buffer,
  };
}

/** True when this Node can compress and decompress zstd. */
export function zstdAvailable(): boolean {
  return zstd() !== undefined;
}

function requireZstd(): ZstdFns {
  const fns = zstd();
  if (!fns) {
    throw new CodecUnavailableError(
      "zstd",
      `zstd compression (application/zstd) needs Node >= 22.15 (node:zlib zstd support); this is Node ${process.versions.node}`,
    );
  }
  return fns;
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function isXz(data: Uint8Array): boolean {
  return XZ_MAGIC.every((byte, i) => data[i] === byte);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

const ENCODERS: Record<CompressionMime, (data: Uint8Array) => Buffer> = {
  "application/x-gzip": (d) => zlib.deflateSync(d), // zlib.compress: RFC 1950, default level
  "application/x-bz2": (d) => asBuffer(bzip2().compressFile(d, undefined, 9)), // bz2.compress level 9
  "application/x-lzma": (d) => lzma().xz.compressSync(d), // lzma.compress: FORMAT_XZ
  "application/x-brotli": (d) => zlib.brotliCompressSync(d),
  "application/zstd": (d) => requireZstd().compress(d),
};

/** Thrown by a capped decoder the moment its output passes the limit. */
class OutputLimit extends Error {}

/** A compressjs output stream that grows a buffer and stops at `limit` bytes. */
class CappedByteSink {
  private buffer = Buffer.allocUnsafe(16 * 1024);
  private length = 0;

  constructor(private readonly limit: number) {}

  writeByte(byte: number): void {
    if (this.length === this.buffer.length) {
      if (this.length >= this.limit) throw new OutputLimit();
      const grown = Buffer.allocUnsafe(Math.min(this.limit, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.buffer[this.length++] = byte;
  }

  result(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

function lzmaDecode(data: Uint8Array, limit: number): Buffer {
  const known = lzmaDecompressedSize(data, limit);
  if ("error" in known) throw new Error(known.error);
  if (known.size > limit) throw new OutputLimit();
  return isXz(data) ? lzma().xz.decompressSync(data) : lzma().lzma.decompressSync(data);
}

/**
 * Decoders that never produce more than `limit` bytes: node:zlib's `maxOutputLength` for zlib,
 * brotli and zstd; a byte sink that stops at the limit for bzip2 (compressjs streams its
 * output); the sizes in the stream's own headers for xz/lzma (xz-size.ts), read before
 * @napi-rs/lzma, which has no limit, inflates anything.
 */
const DECODERS: Record<CompressionMime, (data: Uint8Array, limit: number) => Buffer> = {
  "application/x-gzip": (d, limit) => zlib.inflateSync(d, { maxOutputLength: limit }),
  // bz2.decompress reads concatenated streams too.
  "application/x-bz2": (d, limit) => {
    const sink = new CappedByteSink(limit);
    bzip2().decompressFile(d, sink, true);
    return sink.result();
  },
  // lzma.decompress defaults to FORMAT_AUTO: an .xz container or a legacy .lzma ("alone") stream.
  "application/x-lzma": (d, limit) => lzmaDecode(d, limit),
  "application/x-brotli": (d, limit) => zlib.brotliDecompressSync(d, { maxOutputLength: limit }),
  "application/zstd": (d, limit) => requireZstd().decompress(d, { maxOutputLength: limit }),
};

/** node:zlib's error for output past `maxOutputLength`. */
function isZlibOutputLimit(err: unknown): boolean {
  return err instanceof RangeError && (err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE";
}

function acceptedNames(): string {
  return Object.keys(COMPRESSION_ALIASES)
    .filter((name) => !name.includes("/"))
    .join(", ");
}

/**
 * The MIME type for a compression alias or MIME type (kombu `get_encoder`'s `_aliases.get(t, t)`).
 * Throws a ConfigError naming `option` and the accepted values.
 */
export function compressionMime(nameOrMime: string, option = "compression"): CompressionMime {
  const mime = Object.hasOwn(COMPRESSION_ALIASES, nameOrMime) ? COMPRESSION_ALIASES[nameOrMime] : undefined;
  if (mime === undefined) {
    throw new ConfigError(
      option,
      `${option}: unknown compression ${JSON.stringify(nameOrMime)}; accepted: ${acceptedNames()} (or their MIME types)`,
    );
  }
  return mime;
}

/** kombu `compress(body, content_type)`: the compressed bytes and the MIME type for the header. */
export function compress(data: Uint8Array, nameOrMime: string): { data: Buffer; mime: CompressionMime } {
  const mime = compressionMime(nameOrMime);
  return { data: ENCODERS[mime](data), mime };
}

/**
 * kombu `decompress(body, content_type)`, as `Message.__init__` runs it on a message whose
 * `compression` header is set. The name comes from the wire, so an unknown one is a DecodeError
 * (the message is bad, not the configuration); so is a corrupt stream. Output is capped at
 * `maxOutput` bytes (default 16 MiB, `wireMaxDecompressedSize`): past it, a BudgetExceededError.
 */
export function decompress(
  data: Uint8Array,
  nameOrMime: string,
  maxOutput: number = DEFAULT_WIRE_BUDGET.maxDecompressedSize,
): Buffer {
  const mime = Object.hasOwn(COMPRESSION_ALIASES, nameOrMime) ? COMPRESSION_ALIASES[nameOrMime] : undefined;
  if (mime === undefined) {
    throw new DecodeError(
      `Unknown compression ${JSON.stringify(nameOrMime)} in message; known: ${acceptedNames()} (or their MIME types)`,
    );
  }
  try {
    return DECODERS[mime](data, maxOutput);
  } catch (err) {
    if (err instanceof CodecUnavailableError || err instanceof BudgetExceededError) throw err;
    if (err instanceof OutputLimit || isZlibOutputLimit(err)) {
      throw decompressedTooLarge(maxOutput, `${mime} body of ${data.length} bytes`);
    }
    throw new DecodeError(`Corrupt ${mime} stream: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
