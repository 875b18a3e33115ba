/**
 * kombu's YAML serializer (kombu/serialization.py `register_yaml`): `yaml.safe_dump(value)` and
 * `yaml.safe_load(body)` (PyYAML), through the `yaml` package with PyYAML's YAML 1.1 resolvers
 * (yaml-tags.ts).
 *
 * What crosses: str, int (big ones as `bigint`), float (`.nan`, `.inf`), bool, None, lists,
 * dicts, bytes <-> `!!binary` Uint8Array, datetime <-> timestamp (`Date`, or PyDateTime),
 * date <-> PyDate, set <-> `!!set` (a JS `Set`). PyYAML's SafeRepresenter cannot write `time`,
 * `Decimal` or `UUID` (RepresenterError), so PyTime, PyDecimal and PyUUID are EncodeErrors here,
 * as are functions and symbols. The text differs from PyYAML's in layout (key order kept, not
 * sorted; non-ASCII written as UTF-8, not escaped), never in the values PyYAML reads back.
 */
import { DecodeError, EncodeError } from "../errors.js";
import { loadDependency } from "../optional-deps.js";
import { DEFAULT_WIRE_BUDGET } from "./budget.js";
import { PyDecimal, PyTime, PyUUID } from "./pytypes.js";
import { checkYamlAliasDepth, checkYamlTextDepth } from "./yaml-depth.js";
import { pyyamlTags } from "./yaml-tags.js";

/** The yaml package, loaded on the first YAML body rather than on `import "celeriac"`. */
const yaml = () => loadDependency<typeof import("yaml")>("yaml", "The yaml serializer");

const DUMP_TAGS = pyyamlTags("date");
const LOAD_TAGS = { date: pyyamlTags("date"), pydatetime: pyyamlTags("pydatetime") };

/** Rejects what SafeRepresenter cannot represent, naming the path. */
function checkRepresentable(v: unknown, path: string, active: Set<object>): void {
  if (typeof v === "function" || typeof v === "symbol") {
    throw new EncodeError(`Cannot YAML-encode ${path}: a ${typeof v} cannot be represented`);
  }
  if (typeof v !== "object" || v === null || v instanceof Uint8Array || v instanceof Date) return;
  if (v instanceof PyTime || v instanceof PyDecimal || v instanceof PyUUID) {
    throw new EncodeError(
      `Cannot YAML-encode ${path}: PyYAML's safe_dump cannot represent ${v.constructor.name} (send a string)`,
    );
  }
  if (active.has(v)) return; // the yaml package writes an anchor and an alias, as PyYAML does
  active.add(v);
  if (Array.isArray(v) || v instanceof Set) {
    let i = 0;
    for (const item of v) checkRepresentable(item, `${path}[${i++}]`, active);
  } else if (v instanceof Map) {
    for (const [key, item] of v) checkRepresentable(item, `${path}[${JSON.stringify(String(key))}]`, active);
  } else {
    for (const [key, item] of Object.entries(v))
      checkRepresentable(item, `${path}[${JSON.stringify(key)}]`, active);
  }
  active.delete(v);
}

/** `yaml.safe_dump(value)`, read back by PyYAML's `safe_load` as the same Python value. */
export function yamlDumps(value: unknown): string {
  if (value === undefined) throw new EncodeError("Cannot YAML-encode undefined");
  checkRepresentable(value, "$", new Set());
  try {
    return yaml().stringify(value, {
      version: "1.1",
      customTags: DUMP_TAGS,
      lineWidth: 0, // no folding: one less place where two YAML implementations could disagree
      sortMapEntries: false,
    });
  } catch (err) {
    if (err instanceof EncodeError) throw err;
    throw new EncodeError(`Cannot YAML-encode value: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

export interface YamlLoadsOptions {
  /** What a timestamp with a time becomes: `Date` (default) or a lossless PyDateTime. */
  datetimes?: "date" | "pydatetime";
  /** Deepest nesting accepted (default 512, `wireMaxDepth`), checked before the parser runs (yaml-depth.ts). */
  maxDepth?: number;
}

/**
 * `yaml.safe_load(text)`: one document, PyYAML's implicit types, and no application tags
 * (`!!python/object` and other unknown tags are a DecodeError, as SafeLoader raises ConstructorError).
 */
export function yamlLoads(text: string, options: YamlLoadsOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? DEFAULT_WIRE_BUDGET.maxDepth;
  const lib = yaml();
  checkYamlTextDepth(lib, text, maxDepth);
  const doc = lib.parseDocument(text, {
    version: "1.1",
    customTags: LOAD_TAGS[options.datetimes ?? "date"],
    uniqueKeys: false, // PyYAML keeps the last value of a repeated key
    merge: true,
    prettyErrors: false,
  });
  const problem = doc.errors[0] ?? doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
  if (problem) throw new DecodeError(`Invalid YAML body: ${problem.message}`);
  checkYamlAliasDepth(lib, doc, maxDepth);
  try {
    return doc.toJS({ maxAliasCount: 10_000 });
  } catch (err) {
    throw new DecodeError(`Invalid YAML body: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
