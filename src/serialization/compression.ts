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
});

/** A codec this Node cannot run (zstd before Node 22.15). Not a bad message, not a bad setting. */
export class CodecUnavailableError extends CeleryError {
  readonly codec: string;

  constructor(codec: string, message: string) {
    super("ERR_CODEC_UNAVAILABLE", message);
    this.codec = codec;
  }
}

type ZstdFns = { compress: (b: Uint8Array) => Buffer; decompress: (b: Uint8Array) => Buffer };

/** node:zlib gained zstdCompressSync/zstdDecompressSync in Node 22.15 / 23.8. */
function zstd(): ZstdFns | undefined {
  const lib = zlib as unknown as Record<string, unknown>;
  const compress = lib.zstdCompressSync;
  const decompress = lib.zstdDecompressSync;
  if (typeof compress !== "function" || typeof decompress !== "function") return undefined;
  return {
    compress: (b) => compress.call(zlib, b) as Buffer,
    decompress: (b) => decompress.call(zlib, b) as Buffer,
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

const DECODERS: Record<CompressionMime, (data: Uint8Array) => Buffer> = {
  "application/x-gzip": (d) => zlib.inflateSync(d),
  // bz2.decompress reads concatenated streams too.
  "application/x-bz2": (d) => asBuffer(bzip2().decompressFile(d, undefined, true)),
  // lzma.decompress defaults to FORMAT_AUTO: an .xz container or a legacy .lzma ("alone") stream.
  "application/x-lzma": (d) => (isXz(d) ? lzma().xz.decompressSync(d) : lzma().lzma.decompressSync(d)),
  "application/x-brotli": (d) => zlib.brotliDecompressSync(d),
  "application/zstd": (d) => requireZstd().decompress(d),
};

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
 * (the message is bad, not the configuration); so is a corrupt stream.
 */
export function decompress(data: Uint8Array, nameOrMime: string): Buffer {
  const mime = Object.hasOwn(COMPRESSION_ALIASES, nameOrMime) ? COMPRESSION_ALIASES[nameOrMime] : undefined;
  if (mime === undefined) {
    throw new DecodeError(
      `Unknown compression ${JSON.stringify(nameOrMime)} in message; known: ${acceptedNames()} (or their MIME types)`,
    );
  }
  try {
    return DECODERS[mime](data);
  } catch (err) {
    if (err instanceof CodecUnavailableError) throw err;
    throw new DecodeError(`Corrupt ${mime} stream: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
