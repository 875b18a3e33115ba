import { inflateSync } from "node:zlib";
import { ContentDisallowedError, DecodeError } from "../errors.js";
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
