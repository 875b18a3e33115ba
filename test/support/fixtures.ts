/**
 * Loader and normalizer for the golden corpus in protocol-fixtures/ (captured from real Celery by
 * python-interop/capture/capture.py; layout and shapes in protocol-fixtures/README.md).
 *
 * normalize()/normalizeRawJson() apply the SAME rules as the Python capture
 * (python-interop/capture/common.py Volatile): a value at a listed JSON Pointer must match its
 * format's pattern from protocol-fixtures/normalization.json, and is then replaced by "<FORMAT>".
 * So a TS-built message, normalized with a fixture's `formats`, can be compared with the fixture.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CeleryMinor } from "../../src/compat.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "protocol-fixtures");
export const FIXTURE_KINDS = ["task-message", "result-meta", "group-meta", "json-type"] as const;
export type FixtureKind = (typeof FIXTURE_KINDS)[number];

/** JSON Pointer (relative to the value being normalized) -> format name from normalization.json. */
export type FormatRules = Readonly<Record<string, string>>;

export interface FormatSpec {
  readonly type: "string" | "integer";
  /** Unanchored; matched against the whole value. */
  readonly pattern: string;
}

export interface ErrorOutput {
  readonly error: { readonly type: string; readonly message: string };
}

export interface TaskMessageOutput {
  readonly message: {
    readonly exchange: string;
    readonly routing_key: string;
    readonly priority: number | null;
    readonly headers: JsonObject;
    readonly properties: JsonObject;
    readonly body: {
      readonly content_type: string;
      readonly content_encoding: string;
      readonly compression: string | null;
      /** Exact published body bytes (compressed when compressed). */
      readonly base64: string;
      /** Serialized text before compression (json/yaml); null for msgpack. */
      readonly text: string | null;
      readonly decoded: [JsonValue[], JsonObject, JsonObject | null];
    };
  };
  readonly redis: {
    /** List key, with the `\x06\x16<bucket>` suffix for priority buckets 3/6/9. */
    readonly key: string;
    /** The exact LPUSH value, normalized textually with the rules under /redis/envelope. */
    readonly raw: string;
    readonly envelope: JsonObject;
    /** Commands seen on MONITOR during the call (pub/sub and housekeeping left out). */
    readonly commands: readonly (readonly string[])[];
  };
  readonly amqp: {
    readonly exchange: string;
    readonly routing_key: string;
    readonly properties: JsonObject;
    readonly body_base64: string;
  };
}

export interface StoredMetaOutput {
  readonly key: string;
  readonly ttl: number;
  /** Exact stored value, normalized textually with the rules under /meta. */
  readonly raw: string;
  readonly meta: JsonObject;
  readonly commands: readonly (readonly string[])[];
}

export type JsonTypeOutput =
  | {
      readonly json: string;
      readonly value: JsonValue;
      readonly loads_repr: string | ErrorOutput | null;
      readonly error?: ErrorOutput["error"];
    }
  | ErrorOutput;

interface OutputByKind {
  "task-message": TaskMessageOutput | ErrorOutput;
  "result-meta": StoredMetaOutput;
  "group-meta": StoredMetaOutput;
  "json-type": JsonTypeOutput;
}

export interface FixtureRecord<K extends FixtureKind = FixtureKind> {
  readonly kind: K;
  readonly case: string;
  readonly celery: string;
  readonly kombu: string;
  readonly capture: string;
  readonly input: JsonObject;
  readonly formats: FormatRules;
  readonly output: OutputByKind[K];
  /** Added by the loader: the minor directory and the path inside it, e.g. "task-message/plain--json.json". */
  readonly minor: CeleryMinor;
  readonly file: string;
}

export interface Manifest {
  readonly minor: CeleryMinor;
  readonly celery: string;
  readonly kombu: string;
  readonly packages: Readonly<Record<string, string | null>>;
  readonly count: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly files: readonly string[];
  readonly environment: { readonly python: string; readonly redis_server: string };
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Minors that have a captured corpus (directories with a manifest.json). */
export function fixtureMinors(): CeleryMinor[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^5\.\d+$/.test(d.name))
    .map((d) => d.name as CeleryMinor)
    .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
}

export function loadManifest(minor: CeleryMinor): Manifest {
  return readJson(join(FIXTURES_DIR, minor, "manifest.json")) as Manifest;
}

/** One fixture by its path inside the minor's directory. */
export function loadFixture<K extends FixtureKind = FixtureKind>(
  minor: CeleryMinor,
  file: string,
): FixtureRecord<K> {
  const record = readJson(join(FIXTURES_DIR, minor, file)) as Omit<FixtureRecord<K>, "minor" | "file">;
  return { ...record, minor, file };
}

/** Every fixture of a minor (manifest order: sorted by path), optionally of one kind only. */
export function loadFixtures<K extends FixtureKind>(minor: CeleryMinor, kind: K): FixtureRecord<K>[];
export function loadFixtures(minor: CeleryMinor): FixtureRecord[];
export function loadFixtures(minor: CeleryMinor, kind?: FixtureKind): FixtureRecord[] {
  return loadManifest(minor)
    .files.filter((file) => kind === undefined || file.startsWith(`${kind}/`))
    .map((file) => loadFixture(minor, file));
}

/** True when the output is a recorded refusal (Celery raised instead of producing a value). */
export function isErrorOutput(output: unknown): output is ErrorOutput {
  return typeof output === "object" && output !== null && "error" in output && !("json" in output);
}

let formatCache: Readonly<Record<string, FormatSpec>> | undefined;

/** The format catalogue (protocol-fixtures/normalization.json), shared with the Python capture. */
export function loadFormats(): Readonly<Record<string, FormatSpec>> {
  formatCache ??= (
    readJson(join(FIXTURES_DIR, "normalization.json")) as { formats: Record<string, FormatSpec> }
  ).formats;
  return formatCache;
}

/** Whether `value` has format `name` (whole-value match, as Python's re.fullmatch). */
export function matchesFormat(name: string, value: unknown): boolean {
  const spec = loadFormats()[name];
  if (spec === undefined) throw new Error(`unknown fixture format ${JSON.stringify(name)}`);
  let text: string;
  if (spec.type === "integer") {
    if (typeof value !== "number" || !Number.isInteger(value)) return false;
    text = String(value);
  } else {
    if (typeof value !== "string") return false;
    text = value;
  }
  return new RegExp(`^(?:${spec.pattern})$`).test(text);
}

/** Splits an RFC 6901 JSON Pointer into unescaped tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`not a JSON Pointer: ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function isContainer(value: unknown): value is JsonObject | JsonValue[] {
  return typeof value === "object" && value !== null;
}

/** Reads the value at a JSON Pointer; undefined when the path does not exist. */
export function getAtPointer(root: unknown, pointer: string): unknown {
  let current: unknown = root;
  for (const token of parsePointer(pointer)) {
    if (!isContainer(current)) return undefined;
    current = Array.isArray(current) ? current[Number(token)] : current[token];
  }
  return current;
}

/** The rules under `prefix`, re-rooted (e.g. rulesUnder(fixture.formats, "/message") applies to a built message). */
export function rulesUnder(rules: FormatRules, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [pointer, format] of Object.entries(rules)) {
    if (pointer.startsWith(`${prefix}/`)) out[pointer.slice(prefix.length)] = format;
  }
  return out;
}

function placeholder(format: string): string {
  return `<${format}>`;
}

function checked(pointer: string, format: string, value: unknown): void {
  if (value === undefined) throw new Error(`normalize: nothing at ${pointer} (format ${format})`);
  if (!matchesFormat(format, value)) {
    throw new Error(
      `normalize: value at ${pointer} ${JSON.stringify(value)} does not match format ${format}`,
    );
  }
}

/**
 * Returns a deep copy of `value` (key order kept) where every pointer in `rules` holds
 * "<FORMAT>" instead of the real value. Throws when a pointer is missing or a value does not
 * match its format, exactly as the Python capture refuses to write such a fixture.
 */
export function normalize<T>(value: T, rules: FormatRules): T {
  const copy = structuredClone(value) as unknown;
  for (const [pointer, format] of Object.entries(rules)) {
    const tokens = parsePointer(pointer);
    const last = tokens.pop();
    if (last === undefined) throw new Error("normalize: the root cannot be a volatile value");
    const parent = getAtPointer(copy, tokens.length === 0 ? "" : `/${tokens.map(escapeToken).join("/")}`);
    if (!isContainer(parent)) throw new Error(`normalize: nothing at ${pointer} (format ${format})`);
    if (Array.isArray(parent)) {
      const index = Number(last);
      checked(pointer, format, parent[index]);
      parent[index] = placeholder(format);
    } else {
      checked(pointer, format, parent[last]);
      parent[last] = placeholder(format);
    }
  }
  return copy as T;
}

function escapeToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Normalizes a raw JSON text (a Redis list entry, a stored result) without re-serializing it:
 * the values at `rules` (pointers into the parsed text) are checked, then their JSON tokens are
 * replaced by the placeholder's token, so separators and escaping stay as the producer wrote them.
 * Mirrors python-interop/capture/common.py Volatile._raw_pass.
 */
export function normalizeRawJson(raw: string, rules: FormatRules): string {
  const parsed: unknown = JSON.parse(raw);
  let text = raw;
  for (const [pointer, format] of Object.entries(rules)) {
    const value = getAtPointer(parsed, pointer);
    checked(pointer, format, value);
    const token = JSON.stringify(value);
    const replacement = JSON.stringify(placeholder(format));
    if (typeof value === "string") {
      text = text.replaceAll(token, replacement);
    } else {
      // Numbers: only where they stand as a whole JSON value after ": ", "[" or ", ".
      text = text.replace(new RegExp(`(?<=[:\\[,] )${token}(?=[,}\\]])`, "g"), replacement);
    }
  }
  return text;
}
