/**
 * kombu's `Message.decode()` for one body, inside the wire-input budget: the size as received
 * (`maxMessageSize`), the accept list before any byte is touched (kombu `loads(accept=...)`),
 * decompression by the `compression` header capped at `maxDecompressedSize` (kombu
 * `Message.__init__` -> `decompress`), then the serializer with the nesting cap (`maxDepth`).
 * Every way the body can be bad is a DecodeError (a BudgetExceededError for a limit) or a
 * ContentDisallowedError; nothing else escapes for any input.
 */
import { DecodeError } from "../errors.js";
import { checkMessageSize, DEFAULT_WIRE_BUDGET, type WireBudget } from "./budget.js";
import { CodecUnavailableError, decompress } from "./compression.js";
import { type AcceptPolicy, type DeserializeOptions, deserialize } from "./registry.js";

export interface MessageDecodeOptions extends Omit<DeserializeOptions, "maxDepth"> {
  budget?: WireBudget;
  /** The `compression` header (an alias or MIME type); absent or empty: not compressed. */
  compression?: unknown;
  /** What the body is, for error messages ("task body", "event", "control request", ...). */
  what?: string;
}

export function decodeMessageBody(
  body: Uint8Array,
  contentType: string,
  contentEncoding: string,
  accept: AcceptPolicy,
  options: MessageDecodeOptions = {},
): unknown {
  const budget = options.budget ?? DEFAULT_WIRE_BUDGET;
  checkMessageSize(body.length, budget, options.what ?? "message body");
  const deserializeOptions: DeserializeOptions = {
    ...(options.compat !== undefined ? { compat: options.compat } : {}),
    ...(options.datetimes !== undefined ? { datetimes: options.datetimes } : {}),
    maxDepth: budget.maxDepth,
  };
  let bytes = body;
  // Refuse before touching the bytes, as kombu's loads(accept=...) does: deserialize throws.
  if (accept.allows(contentType || "application/data")) {
    const compression = options.compression;
    if (typeof compression === "string" && compression !== "") {
      try {
        bytes = decompress(bytes, compression, budget.maxDecompressedSize);
      } catch (cause) {
        // A codec this Node lacks (zstd before 22.15) cannot read this message: a bad message here.
        if (cause instanceof CodecUnavailableError) throw new DecodeError(cause.message, { cause });
        throw cause;
      }
    }
  }
  return deserialize(bytes, contentType, contentEncoding, accept, deserializeOptions);
}
