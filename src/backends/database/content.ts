import type { MetaCodec } from "../meta-codec.js";

/**
 * What the database backends share: how a value becomes the text/bytes in a column.
 */
export interface ContentCodec {
  /** `Backend.encode` (result serializer + 5.7 `result_compression`): SQLAlchemy's LargeBinary columns. */
  meta: MetaCodec;
  /** kombu `dumps(value, serializer=result_serializer)`: content type, encoding and bytes (no compression). */
  dumps(value: unknown): { contentType: string; contentEncoding: string; body: Uint8Array };
}

/** Python's `json.dumps` (stdlib defaults: `", "` / `": "` separators, ASCII escapes) of plain JSON data. */
export function pythonJsonDumps(value: unknown): string {
  const ascii = (text: string) =>
    text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const walk = (v: unknown): string => {
    if (v === null || v === undefined) return "null";
    if (Array.isArray(v)) return `[${v.map(walk).join(", ")}]`;
    if (typeof v === "object") {
      return `{${Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${ascii(JSON.stringify(k))}: ${walk(x)}`)
        .join(", ")}}`;
    }
    return ascii(JSON.stringify(v));
  };
  return walk(value);
}
