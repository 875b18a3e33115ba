/**
 * Scalar tags that make the `yaml` package resolve plain scalars exactly as PyYAML's SafeLoader
 * does (yaml/resolver.py `Resolver.add_implicit_resolver`, yaml/constructor.py
 * `SafeConstructor.construct_yaml_*`), and write JS values the way `yaml.safe_dump` writes the
 * matching Python values (yaml/representer.py `SafeRepresenter`).
 *
 * Why not the package's own YAML 1.1 schema: it reads `y`/`n` as booleans and `1e3` as a
 * number, where PyYAML reads strings (PyYAML's floats need a dot and a signed exponent), and it
 * writes floats and timestamps in forms PyYAML does not produce.
 */
import type { ScalarTag, Tags } from "yaml";
import { EncodeError } from "../errors.js";
import { pyFloatRepr } from "../protocol/py-float.js";
import { formatDateUtc, PyDate, PyDateTime } from "./pytypes.js";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function narrow(big: bigint): number | bigint {
  return big <= MAX_SAFE && big >= MIN_SAFE ? Number(big) : big;
}

/** Base-60 digits `1:30:05` (YAML 1.1 sexagesimal), as construct_yaml_int/float compute them. */
function sexagesimal(body: string): number {
  let total = 0;
  for (const part of body.split(":")) total = total * 60 + Number(part);
  return total;
}

const nullTag: ScalarTag = {
  tag: "tag:yaml.org,2002:null",
  default: true,
  identify: (v) => v === null || v === undefined,
  test: /^(?:~|null|Null|NULL|)$/,
  resolve: () => null,
  stringify: () => "null",
};

const boolTag: ScalarTag = {
  tag: "tag:yaml.org,2002:bool",
  default: true,
  identify: (v) => typeof v === "boolean",
  test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  resolve: (s) => /^(?:yes|true|on)$/i.test(s),
  stringify: ({ value }) => (value ? "true" : "false"),
};

const intTag: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  default: true,
  identify: (v) => typeof v === "bigint" || (Number.isSafeInteger(v) && !Object.is(v, -0)),
  test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  resolve(source) {
    // mirrors SafeConstructor.construct_yaml_int
    let s = source.replace(/_/g, "");
    let sign = 1n;
    if (s[0] === "-" || s[0] === "+") {
      if (s[0] === "-") sign = -1n;
      s = s.slice(1);
    }
    if (s === "0") return 0;
    if (s.startsWith("0b")) return narrow(sign * BigInt(s));
    if (s.startsWith("0x")) return narrow(sign * BigInt(s));
    if (s.startsWith("0")) return narrow(sign * BigInt(`0o${s.slice(1)}`));
    if (s.includes(":")) return Number(sign) * sexagesimal(s);
    return narrow(sign * BigInt(s));
  },
  stringify: ({ value }) => String(value),
};

const floatTag: ScalarTag = {
  tag: "tag:yaml.org,2002:float",
  default: true,
  identify: (v) => typeof v === "number" && !(Number.isSafeInteger(v) && !Object.is(v, -0)),
  test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  resolve(source) {
    // mirrors SafeConstructor.construct_yaml_float
    const s = source.replace(/_/g, "").toLowerCase();
    const negative = s.startsWith("-");
    const body = s[0] === "-" || s[0] === "+" ? s.slice(1) : s;
    if (body === ".inf") return negative ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    if (body === ".nan") return Number.NaN;
    const magnitude = body.includes(":") ? sexagesimal(body) : Number(body);
    return negative ? -magnitude : magnitude;
  },
  stringify({ value }) {
    // mirrors SafeRepresenter.represent_float: repr().lower(), `.nan`/`.inf`, and a `.0` before
    // a bare exponent so the text still resolves as a float (1e+100 -> 1.0e+100).
    const n = value as number;
    if (Number.isNaN(n)) return ".nan";
    if (n === Number.POSITIVE_INFINITY) return ".inf";
    if (n === Number.NEGATIVE_INFINITY) return "-.inf";
    const repr = pyFloatRepr(n).toLowerCase();
    return !repr.includes(".") && repr.includes("e") ? repr.replace("e", ".0e") : repr;
  },
};

const TIMESTAMP_RE =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;

const pad2 = (s: string) => s.padStart(2, "0");

/**
 * A `tag:yaml.org,2002:timestamp` tag. `datetimes` picks what a datetime becomes: a `Date`
 * (naive read as UTC) or a {@link PyDateTime} with Python's `isoformat()` text of the value
 * PyYAML would build (microseconds truncated to 6 digits, naive kept naive).
 */
export function timestampTag(datetimes: "date" | "pydatetime"): ScalarTag {
  return {
    tag: "tag:yaml.org,2002:timestamp",
    default: true,
    identify: (v) => v instanceof Date || v instanceof PyDateTime || v instanceof PyDate,
    test: /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
    resolve(source, onError) {
      // mirrors SafeConstructor.construct_yaml_timestamp
      const m = TIMESTAMP_RE.exec(source);
      if (!m) {
        onError(`Invalid timestamp ${source}`);
        return source;
      }
      const date = `${m[1]}-${pad2(m[2]!)}-${pad2(m[3]!)}`;
      if (m[4] === undefined) return new PyDate(date);
      const micro = (m[7] ?? "").slice(0, 6).padEnd(6, "0");
      let iso = `${date}T${pad2(m[4])}:${m[5]}:${m[6]}${micro === "000000" ? "" : `.${micro}`}`;
      if (m[8] === "Z") iso += "+00:00";
      else if (m[9] !== undefined) iso += `${m[9]}${pad2(m[10]!)}:${m[11] ?? "00"}`;
      const dt = new PyDateTime(iso);
      return datetimes === "pydatetime" ? dt : dt.toDate();
    },
    stringify({ value }) {
      // SafeRepresenter.represent_datetime writes isoformat(' '); dates as YYYY-MM-DD.
      if (value instanceof PyDate) return value.value;
      const text = (value instanceof PyDateTime ? value.value : formatDateUtc(value as Date)).replace(
        "T",
        " ",
      );
      // A PyDateTime in a form PyYAML's timestamp resolver does not match (no seconds, `+0530`)
      // would arrive as a string: refuse rather than change its type.
      if (!TIMESTAMP_RE.test(text)) throw new EncodeError(`PyYAML would not read ${text} as a timestamp`);
      return text;
    },
  };
}

// PyYAML's Reader refuses these characters anywhere in a stream (reader.py NON_PRINTABLE), and
// treats NEL/LS/PS as line breaks even inside quotes: such strings must be escaped.
const NEEDS_ESCAPES = /[^\t\n\r\x20-\x7E\xA0-\u2027\u202A-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const RAW_IN_JSON = /[\x7f-\x9f\u2028\u2029\ufffe\uffff]/g;

/** A YAML double-quoted scalar that escapes everything PyYAML cannot take raw. */
function pyyamlDoubleQuoted(value: string): string {
  // JSON escapes (\" \\ \n \uXXXX …) are all valid YAML escapes; JSON.stringify leaves
  // DEL, the C1 controls, LS/PS and U+FFFE/U+FFFF raw, so escape those too.
  return JSON.stringify(value).replace(RAW_IN_JSON, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** The package's str tag, writing strings with unprintable characters as PyYAML can read them. */
function pyyamlStringTag(base: ScalarTag): ScalarTag {
  const stringify = base.stringify;
  return {
    ...base,
    stringify(item, ctx, onComment, onChompKeep) {
      if (typeof item.value === "string" && NEEDS_ESCAPES.test(item.value))
        return pyyamlDoubleQuoted(item.value);
      return stringify ? stringify(item, ctx, onComment, onChompKeep) : String(item.value);
    },
  };
}

const STR_TAG = "tag:yaml.org,2002:str";

const REPLACED = new Set([
  "tag:yaml.org,2002:null",
  "tag:yaml.org,2002:bool",
  "tag:yaml.org,2002:int",
  "tag:yaml.org,2002:float",
  "tag:yaml.org,2002:timestamp",
]);

/** The package's YAML 1.1 tags with the scalar ones swapped for PyYAML's. */
export function pyyamlTags(datetimes: "date" | "pydatetime"): (tags: Tags) => Tags {
  const ours = [nullTag, boolTag, intTag, floatTag, timestampTag(datetimes)];
  return (tags) => [
    ...ours,
    ...tags
      .filter((t) => typeof t === "string" || !REPLACED.has(t.tag))
      .map((t) =>
        typeof t !== "string" && t.tag === STR_TAG && !("collection" in t && t.collection)
          ? pyyamlStringTag(t as ScalarTag)
          : t,
      ),
  ];
}
