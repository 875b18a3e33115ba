import type { Settings } from "../config.js";
import { DecodeError } from "../errors.js";
import {
  AcceptPolicy,
  CONTENT_TYPES,
  checkMessageSize,
  compress,
  decompress,
  deserialize,
  serialize,
  wireBudget,
} from "../serialization/index.js";

/**
 * Turns result metas into the bytes a Celery backend stores and back.
 *
 * Encoding: the result serializer (`result_serializer`, json by default),
 * then, on Celery 5.7 with `result_compression` set, the 5.7 compressed
 * payload `\x00celery-compressed\x00<mime>\x00<compressed bytes>`
 * (celery/backends/base.py `compress_payload` / `decompress_payload`).
 * Decoding detects that prefix whatever our own setting is, as 5.7 readers do.
 */
export interface MetaCodec {
  encode(meta: unknown): Buffer;
  decode(data: Buffer): unknown;
}

export const COMPRESSED_PREFIX = Buffer.from("\x00celery-compressed\x00", "latin1");

export interface CompressedPayload {
  mime: string;
  data: Buffer;
}

/** Wraps compressed bytes in the 5.7 marker. */
export function wrapCompressed(mime: string, data: Uint8Array): Buffer {
  return Buffer.concat([COMPRESSED_PREFIX, Buffer.from(mime, "latin1"), Buffer.from([0]), data]);
}

/** Splits a 5.7 compressed payload, or returns null for a plain one (first byte is not NUL). */
export function unwrapCompressed(payload: Buffer): CompressedPayload | null {
  if (payload.length === 0 || payload[0] !== 0) return null;
  if (!payload.subarray(0, COMPRESSED_PREFIX.length).equals(COMPRESSED_PREFIX)) return null;
  const mimeEnd = payload.indexOf(0, COMPRESSED_PREFIX.length);
  if (mimeEnd < 0) throw new DecodeError("compressed result payload has no MIME terminator");
  return {
    mime: payload.subarray(COMPRESSED_PREFIX.length, mimeEnd).toString("latin1"),
    data: payload.subarray(mimeEnd + 1),
  };
}

export interface MetaCodecParts {
  /** Serialize with the result serializer. */
  serialize(value: unknown): Uint8Array;
  /** Deserialize bytes written with the result serializer (accept policy applied by the caller's closure). */
  deserialize(data: Uint8Array): unknown;
  /** Compress with `result_compression`, returning its MIME type; absent means no compression. */
  compress?: ((data: Uint8Array) => { data: Uint8Array; mime: string }) | undefined;
  /** Decompress by MIME type (any kombu-supported one). */
  decompress(data: Uint8Array, mime: string): Uint8Array;
}

/** Builds a codec from the serialization primitives. */
export function createMetaCodec(parts: MetaCodecParts): MetaCodec {
  return {
    encode(meta) {
      const raw = parts.serialize(meta);
      if (!parts.compress) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      const { data, mime } = parts.compress(raw);
      return wrapCompressed(mime, data);
    },
    decode(payload) {
      const compressed = unwrapCompressed(payload);
      return parts.deserialize(compressed ? parts.decompress(compressed.data, compressed.mime) : payload);
    },
  };
}

/**
 * The result codec from the settings: `result_serializer`, `result_accept_content`
 * (else `accept_content`) and, on 5.7, `result_compression` (celery/backends/base.py
 * `Backend.encode`/`decode`, 5.7.0).
 */
export function resultCodec(settings: Settings): MetaCodec {
  const serializer = settings.resultSerializer;
  const accept = AcceptPolicy.from(
    settings.resultAcceptContent ?? settings.acceptContent,
    "resultAcceptContent",
  );
  const contentType = CONTENT_TYPES[serializer];
  const contentEncoding = serializer === "msgpack" ? "binary" : "utf-8";
  const compression = settings.resultCompression;
  // Metas come from the wire too (any peer writes them): read them within the wire-input budget.
  const budget = wireBudget(settings);
  return createMetaCodec({
    serialize: (value) =>
      serialize(value, serializer, { compat: settings.compat, option: "serializer" }).body,
    // Celery reads metas with its own result serializer's content type (Backend.decode).
    deserialize: (data) => {
      // `data` may be what decompress() returned, already held to maxDecompressedSize.
      const limit = Math.max(budget.maxMessageSize, budget.maxDecompressedSize);
      checkMessageSize(data.length, { ...budget, maxMessageSize: limit }, "result meta");
      return deserialize(data, contentType, contentEncoding, accept, {
        compat: settings.compat,
        maxDepth: budget.maxDepth,
      });
    },
    compress:
      compression && settings.compat.minor === "5.7" ? (data) => compress(data, compression) : undefined,
    decompress: (data, mime) => {
      checkMessageSize(data.length, budget, "compressed result meta");
      return decompress(data, mime, budget.maxDecompressedSize);
    },
  });
}
