import { createMetaCodec, type MetaCodec } from "../backends/meta-codec.js";
import type { CompressionName, SerializerName, Settings } from "../config.js";
import {
  AcceptPolicy,
  CONTENT_TYPES,
  compress,
  decompress,
  deserialize,
  serialize,
} from "../serialization/index.js";

/**
 * The one seam between the producer/result code and `serialization/`:
 * task bodies (serializer + optional compression, kombu `Producer._prepare`)
 * and result metas (result serializer + 5.7 `result_compression`,
 * celery/backends/base.py `Backend.encode`/`decode`).
 */
export interface SerializedBody {
  body: Uint8Array;
  contentType: string;
  contentEncoding: string;
}

export function serializeBody(
  value: unknown,
  serializer: SerializerName,
  settings: Settings,
): SerializedBody {
  return serialize(value, serializer, { compat: settings.compat, option: "serializer" });
}

export function compressBody(data: Uint8Array, name: CompressionName): { data: Uint8Array; mime: string } {
  return compress(data, name);
}

/** The result codec the Redis backend stores metas with. */
export function resultCodec(settings: Settings): MetaCodec {
  const serializer = settings.resultSerializer;
  const accept = AcceptPolicy.from(
    settings.resultAcceptContent ?? settings.acceptContent,
    "resultAcceptContent",
  );
  const contentType = CONTENT_TYPES[serializer];
  const contentEncoding = serializer === "msgpack" ? "binary" : "utf-8";
  const compression = settings.resultCompression;
  return createMetaCodec({
    serialize: (value) => serializeBody(value, serializer, settings).body,
    // Celery reads metas with its own result serializer's content type (Backend.decode).
    deserialize: (data) =>
      deserialize(data, contentType, contentEncoding, accept, { compat: settings.compat }),
    compress:
      compression && settings.compat.minor === "5.7" ? (data) => compress(data, compression) : undefined,
    decompress: (data, mime) => decompress(data, mime),
  });
}
