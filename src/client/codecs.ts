import type { Settings } from "../config.js";
import {
  type CompressionName,
  compress,
  type SerializedBody,
  type SerializerName,
  serialize,
} from "../serialization/index.js";

/**
 * The seam between the producer and `serialization/`: task bodies
 * (serializer + optional compression, kombu `Producer._prepare`). Result
 * metas have theirs in backends/meta-codec.ts (`resultCodec`).
 */
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
