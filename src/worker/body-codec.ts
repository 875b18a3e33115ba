import { inflateSync } from "node:zlib";
import type { CompatProfile } from "../compat.js";
import { ContentDisallowedError, DecodeError } from "../errors.js";
import { AcceptPolicy, decompress, deserialize, serialize } from "../serialization/index.js";
import type { Delivery } from "../transports/transport.js";

/**
 * Turns a delivery's body bytes into the decoded payload, as kombu's
 * `Message.decode()` does: decompress by the `compression` header, refuse
 * content types outside the accept list (kombu `loads(accept=...)` →
 * ContentDisallowed), deserialize. Pluggable: the worker takes any
 * `BodyDecoder`; this default handles JSON and zlib (kombu's `zlib`
 * registers as `application/x-gzip`), which is what the wire carries by
 * default. The serialization module provides the full codec set.
 */
export type BodyDecoder = (
  delivery: Pick<Delivery, "body" | "contentType" | "contentEncoding" | "headers">,
) => unknown;

const SERIALIZER_MIME: Record<string, string> = {
  json: "application/json",
  msgpack: "application/x-msgpack",
  yaml: "application/x-yaml",
  pickle: "application/x-python-serialize",
};

export function acceptedMimeTypes(accept: readonly string[]): Set<string> {
  return new Set(accept.map((a) => SERIALIZER_MIME[a] ?? a));
}

export function jsonBodyDecoder(accept: readonly string[] = ["json"]): BodyDecoder {
  const allowed = acceptedMimeTypes(accept);
  return (delivery) => {
    const contentType = delivery.contentType;
    if (!allowed.has(contentType)) throw new ContentDisallowedError(contentType);
    let bytes = delivery.body;
    const compression = delivery.headers.compression;
    if (typeof compression === "string" && compression !== "") {
      if (compression !== "application/x-gzip" && compression !== "zlib") {
        throw new DecodeError(`unsupported compression ${JSON.stringify(compression)}`);
      }
      try {
        bytes = inflateSync(bytes);
      } catch (cause) {
        throw new DecodeError(`could not decompress body (${compression}): ${(cause as Error).message}`, {
          cause,
        });
      }
    }
    if (contentType !== "application/json")
      throw new ContentDisallowedError(contentType, `no decoder for ${contentType}`);
    try {
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (cause) {
      throw new DecodeError(`body is not valid JSON: ${(cause as Error).message}`, { cause });
    }
  };
}

/**
 * The full kombu codec set from `serialization/`: decompress by the
 * `compression` header (any kombu alias), refuse content outside `accept`
 * (pickle always), deserialize json (with kombu >= 5.3 type markers),
 * msgpack or yaml. Any decompression failure is a DecodeError, which the
 * worker treats as Celery's `on_decode_error` (logged, discarded).
 */
export function kombuBodyDecoder(accept: readonly string[], compat: CompatProfile): BodyDecoder {
  const policy = AcceptPolicy.from(accept);
  return (delivery) => {
    let bytes: Uint8Array = delivery.body;
    const compression = delivery.headers.compression;
    if (!policy.allows(delivery.contentType || "application/data")) {
      // Refuse before touching the bytes, as kombu's loads(accept=...) does.
      return deserialize(bytes, delivery.contentType, delivery.contentEncoding, policy, { compat });
    }
    if (typeof compression === "string" && compression !== "") {
      try {
        bytes = decompress(bytes, compression);
      } catch (cause) {
        if (cause instanceof DecodeError) throw cause;
        throw new DecodeError(`could not decompress body (${compression}): ${(cause as Error).message}`, {
          cause,
        });
      }
    }
    return deserialize(bytes, delivery.contentType, delivery.contentEncoding, policy, { compat });
  };
}

/** Serializes a retry message body with the task serializer (kombu `dumps`). */
export function kombuBodyEncoder(
  serializer: string,
  compat: CompatProfile,
): (body: unknown[]) => { body: Uint8Array; contentType: string; contentEncoding: string } {
  return (body) => serialize(body, serializer, { compat, option: "taskSerializer" });
}
