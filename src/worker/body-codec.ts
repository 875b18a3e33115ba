import type { CompatProfile } from "../compat.js";
import { DecodeError } from "../errors.js";
import { AcceptPolicy, decompress, deserialize, serialize } from "../serialization/index.js";
import type { Delivery } from "../transports/transport.js";

/**
 * Turns a delivery's body bytes into the decoded payload, as kombu's
 * `Message.decode()` does: decompress by the `compression` header, refuse
 * content types outside the accept list (kombu `loads(accept=...)` →
 * ContentDisallowed), deserialize. Pluggable: the worker takes any
 * `BodyDecoder`; {@link kombuBodyDecoder} is the default.
 */
export type BodyDecoder = (
  delivery: Pick<Delivery, "body" | "contentType" | "contentEncoding" | "headers">,
) => unknown;

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

/**
 * Serializes a task's result with the result serializer, as the backend
 * will (celery/backends/base.py `Backend.encode`); throws EncodeError when it cannot.
 */
export function kombuResultEncoder(serializer: string, compat: CompatProfile): (value: unknown) => unknown {
  return (value) => serialize(value, serializer, { compat, option: "resultSerializer" });
}
