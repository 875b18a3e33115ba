import { createMetaCodec, type MetaCodec } from "../backends/meta-codec.js";
import type { CompressionName, SerializerName, Settings } from "../config.js";
import { ContentDisallowedError, EncodeError } from "../errors.js";
import { jsonDumps, jsonLoads } from "../serialization/json.js";

/**
 * The one seam between the producer/result code and `serialization/`:
 * task bodies (serializer + optional compression, kombu `Producer._prepare`)
 * and result metas (result serializer + 5.7 `result_compression`).
 */
export interface SerializedBody {
  body: Uint8Array;
  contentType: string;
  contentEncoding: string;
}

const CONTENT_TYPES: Record<SerializerName, [string, string]> = {
  json: ["application/json", "utf-8"],
  msgpack: ["application/x-msgpack", "binary"],
  yaml: ["application/x-yaml", "utf-8"],
};

export function serializeBody(
  value: unknown,
  serializer: SerializerName,
  settings: Settings,
): SerializedBody {
  if (serializer !== "json") throw new EncodeError(`serializer ${serializer} is not available yet`);
  const [contentType, contentEncoding] = CONTENT_TYPES.json;
  const text = jsonDumps(value, { typeMarkers: settings.compat.jsonTypeMarkers });
  return { body: Buffer.from(text, "utf8"), contentType, contentEncoding };
}

export function compressBody(_data: Uint8Array, name: CompressionName): { data: Uint8Array; mime: string } {
  throw new EncodeError(`compression ${name} is not available yet`);
}

/** The result codec the Redis backend stores metas with. */
export function resultCodec(settings: Settings): MetaCodec {
  const serializer = settings.resultSerializer;
  const accept = settings.resultAcceptContent ?? settings.acceptContent;
  if (!accept.includes(serializer)) {
    throw new ContentDisallowedError(
      CONTENT_TYPES[serializer][0],
      `resultSerializer ${serializer} is not in the accept list`,
    );
  }
  return createMetaCodec({
    serialize: (value) => serializeBody(value, serializer, settings).body,
    deserialize: (data) =>
      jsonLoads(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"), {
        typeMarkers: settings.compat.jsonTypeMarkers,
      }),
    compress:
      settings.resultCompression && settings.compat.minor === "5.7"
        ? (data) => compressBody(data, settings.resultCompression as CompressionName)
        : undefined,
    decompress: () => {
      throw new EncodeError("result decompression is not available yet");
    },
  });
}
