/**
 * The serializer registry: kombu/serialization.py `SerializerRegistry.dumps`/`loads` and
 * `prepare_accept_content`, for the serializers a Node peer can speak.
 *
 * | name    | content type                      | content encoding |
 * |---------|-----------------------------------|------------------|
 * | json    | `application/json`                | `utf-8`          |
 * | msgpack | `application/x-msgpack`           | `binary`         |
 * | yaml    | `application/x-yaml`              | `utf-8`          |
 * | pickle  | `application/x-python-serialize`  | `binary`: never decoded here (a Node process cannot unpickle) |
 */
import { type CompatProfile, LATEST_COMPAT } from "../compat.js";
import { ConfigError, ContentDisallowedError, DecodeError } from "../errors.js";
import { jsonDumps, jsonLoads } from "./json.js";
import { msgpackDumps, msgpackLoads } from "./msgpack.js";
import { yamlDumps, yamlLoads } from "./yaml.js";

/** The serializers Celery knows by name (kombu `registry`), pickle aside. */
export const SERIALIZER_NAMES = ["json", "msgpack", "yaml"] as const;
export type SerializerName = (typeof SERIALIZER_NAMES)[number];

export const PICKLE_CONTENT_TYPE = "application/x-python-serialize";

/** kombu's `registry.name_to_type` for the serializers Celery knows by name. */
export const CONTENT_TYPES: Readonly<Record<SerializerName | "pickle", string>> = Object.freeze({
  json: "application/json",
  msgpack: "application/x-msgpack",
  yaml: "application/x-yaml",
  pickle: PICKLE_CONTENT_TYPE,
});

/** kombu's `TRUSTED_CONTENT`: raw payloads that every accept list lets through. */
export const TRUSTED_CONTENT_TYPES: ReadonlySet<string> = new Set(["application/data", "application/text"]);

/** kombu's `SKIP_DECODE`: content encodings that mean "leave the bytes alone". */
const BINARY_ENCODINGS = new Set(["binary", "ascii-8bit"]);

const NAME_BY_TYPE: ReadonlyMap<string, string> = new Map(
  Object.entries(CONTENT_TYPES).map(([n, t]) => [t, n]),
);

export function isSerializerName(name: string): name is SerializerName {
  return (SERIALIZER_NAMES as readonly string[]).includes(name);
}

/**
 * Celery's `accept_content` turned into MIME types (kombu `prepare_accept_content`): names map
 * through the registry, anything containing `/` is taken as a MIME type. Matching is an exact
 * string comparison, as in kombu: `application/json; charset=utf-8` is not `application/json`.
 */
export class AcceptPolicy {
  readonly contentTypes: ReadonlySet<string>;

  private constructor(contentTypes: ReadonlySet<string>) {
    this.contentTypes = contentTypes;
  }

  /**
   * From Celery-style names or MIME types (default `["json"]`, Celery's `accept_content` default).
   * Throws a ConfigError naming `option` for an unknown name.
   */
  static from(namesOrTypes: Iterable<string> = ["json"], option = "acceptContent"): AcceptPolicy {
    const types = new Set<string>();
    for (const entry of namesOrTypes) {
      if (entry.includes("/")) {
        types.add(entry);
        continue;
      }
      const type = Object.hasOwn(CONTENT_TYPES, entry)
        ? CONTENT_TYPES[entry as keyof typeof CONTENT_TYPES]
        : undefined;
      if (type === undefined) {
        throw new ConfigError(
          option,
          `${option}: no serializer named ${JSON.stringify(entry)}; accepted: json, msgpack, yaml, pickle, or a MIME type`,
        );
      }
      types.add(type);
    }
    return new AcceptPolicy(types);
  }

  /** True when kombu's `loads(accept=…)` would decode this content type. */
  allows(contentType: string): boolean {
    return TRUSTED_CONTENT_TYPES.has(contentType) || this.contentTypes.has(contentType);
  }
}

export interface SerializedBody {
  body: Buffer;
  contentType: string;
  contentEncoding: "utf-8" | "binary";
}

export interface SerializeOptions {
  /** The Celery minor the peers run; selects kombu 5.2's plain JSON when `jsonTypeMarkers` is off. */
  compat?: CompatProfile;
  /** The setting being honoured, for error messages (`taskSerializer`, `resultSerializer`, …). */
  option?: string;
}

/**
 * kombu `registry.dumps(value, serializer)`: the body and the content type/encoding to send
 * with it. Throws a ConfigError for an unknown serializer, an EncodeError for a value the
 * serializer cannot carry.
 */
export function serialize(
  value: unknown,
  serializer: string,
  options: SerializeOptions = {},
): SerializedBody {
  const compat = options.compat ?? LATEST_COMPAT;
  switch (serializer) {
    case "json":
      return {
        // ensure_ascii: jsonDumps writes only ASCII, whose latin1 bytes are its UTF-8 bytes
        // (latin1 skips the UTF-8 encoder's scan).
        body: Buffer.from(jsonDumps(value, { typeMarkers: compat.jsonTypeMarkers }), "latin1"),
        contentType: CONTENT_TYPES.json,
        contentEncoding: "utf-8",
      };
    case "msgpack":
      return { body: msgpackDumps(value), contentType: CONTENT_TYPES.msgpack, contentEncoding: "binary" };
    case "yaml":
      return {
        body: Buffer.from(yamlDumps(value), "utf8"),
        contentType: CONTENT_TYPES.yaml,
        contentEncoding: "utf-8",
      };
    default: {
      const option = options.option ?? "serializer";
      const why = serializer === "pickle" ? " (pickle is Python-only: a Node process cannot produce it)" : "";
      throw new ConfigError(
        option,
        `${option}: unknown serializer ${JSON.stringify(serializer)}${why}; accepted: ${SERIALIZER_NAMES.join(", ")}`,
      );
    }
  }
}

export interface DeserializeOptions {
  compat?: CompatProfile;
  /** What JSON `datetime` markers and YAML timestamps become (see JsonLoadsOptions.datetimes). */
  datetimes?: "date" | "pydatetime";
  /** Deepest nesting accepted (default 512, `wireMaxDepth`); deeper is a BudgetExceededError. */
  maxDepth?: number;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// PyYAML's reader skips a leading BOM; Python's json rejects it ("Unexpected UTF-8 BOM").
const STRICT_UTF8_NO_BOM = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(body: Uint8Array, decoder: { decode(input: Uint8Array): string }): string {
  try {
    return decoder.decode(body);
  } catch (err) {
    throw new DecodeError("Cannot decode body as utf-8: invalid UTF-8 bytes", { cause: err });
  }
}

/** `bytes.decode(encoding)` for the encodings a peer plausibly names (kombu `_decode`). */
function decodeText(body: Uint8Array, encoding: string): string {
  try {
    switch (encoding) {
      case "utf-8":
      case "utf8":
        return decodeUtf8(body, STRICT_UTF8);
      case "ascii":
      case "us-ascii":
        if (body.some((b) => b > 0x7f)) throw new Error("byte outside 0..127");
        return Buffer.from(body).toString("latin1");
      case "latin-1":
      case "latin1":
      case "iso-8859-1":
        return Buffer.from(body).toString("latin1");
      default:
        return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(body);
    }
  } catch (err) {
    throw new DecodeError(
      `Cannot decode body as ${encoding}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
}

function refusal(contentType: string, why: string): ContentDisallowedError {
  // kombu SerializerRegistry._for_untrusted_content: "… of type pickle (application/x-python-serialize)"
  const name = NAME_BY_TYPE.get(contentType);
  const shown = name ? `${name} (${contentType})` : contentType;
  return new ContentDisallowedError(contentType, `Refusing to deserialize ${why} content of type ${shown}`);
}

/**
 * kombu `registry.loads(body, content_type, content_encoding, accept)`:
 * - an empty content type means `application/data`;
 * - a type outside `accept` (and not trusted) is a ContentDisallowedError, matched exactly;
 * - pickle is always a ContentDisallowedError, even when accepted: Node cannot unpickle;
 * - an empty body is returned as is (kombu skips decoding falsy data);
 * - a type without a decoder is returned as text (decoded with `contentEncoding`) or, for
 *   `binary`, as the raw bytes.
 */
export function deserialize(
  body: Uint8Array,
  contentType: string,
  contentEncoding: string,
  accept: AcceptPolicy,
  options: DeserializeOptions = {},
): unknown {
  const type = contentType || "application/data";
  if (!accept.allows(type)) throw refusal(type, "untrusted");
  if (type === PICKLE_CONTENT_TYPE) {
    throw new ContentDisallowedError(
      type,
      "Refusing to deserialize pickle (application/x-python-serialize) content: a Node process cannot unpickle; " +
        "configure the Python side to send json, msgpack or yaml",
    );
  }
  if (body.length === 0) return body;
  const compat = options.compat ?? LATEST_COMPAT;
  switch (type) {
    case CONTENT_TYPES.json:
      // kombu.utils.json.loads decodes bytes as UTF-8 whatever the content encoding says.
      return jsonLoads(decodeText(body, "utf-8"), {
        typeMarkers: compat.jsonTypeMarkers,
        datetimes: options.datetimes ?? "date",
        ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
      });
    case CONTENT_TYPES.msgpack:
      return msgpackLoads(body, options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {});
    case CONTENT_TYPES.yaml:
      return yamlLoads(decodeUtf8(body, STRICT_UTF8_NO_BOM), {
        datetimes: options.datetimes ?? "date",
        ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
      });
    default: {
      const encoding = (contentEncoding || "utf-8").toLowerCase();
      return BINARY_ENCODINGS.has(encoding) ? body : decodeText(body, encoding);
    }
  }
}
