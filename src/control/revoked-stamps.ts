import { isPlainObject, setOwn } from "../protocol/guards.js";
import { pyRepr } from "../protocol/py-repr.js";

/**
 * Stamps flagged for revoking on one worker: celery/worker/state.py `revoked_stamps` (5.7.0), a
 * dict of stamp name -> the revoked values, filled by the `revoke_by_stamped_headers` command and
 * read by `Request.revoked` before a task runs. Not persisted and not shared by mingle: Celery
 * keeps it in memory only (its `--statedb` and `hello` carry revoked ids alone).
 */
export class RevokedStamps {
  private readonly values = new Map<string, unknown[]>();

  /** `worker_state.revoked_stamps[header] = maybe_list(old or []) + list(maybe_list(stamps))`. */
  add(headers: Record<string, unknown>): void {
    for (const [name, stamps] of Object.entries(headers)) {
      this.values.set(name, [...(this.values.get(name) ?? []), ...maybeList(stamps)]);
    }
  }

  get size(): number {
    return this.values.size;
  }

  /** The revoked values by stamp name, as Celery's dict holds them. */
  toObject(): Record<string, unknown[]> {
    const out: Record<string, unknown[]> = {};
    for (const [name, values] of this.values) setOwn(out, name, [...values]);
    return out;
  }

  /**
   * celery/worker/request.py `Request.revoked`, the stamp part: the first stamp of the request
   * (in `stamped_headers` order) whose value, or one of whose list values, is revoked, as
   * `{name: value}` (the log line shows it); null when none is.
   */
  match(stampedHeaders: readonly string[], stamps: Record<string, unknown>): Record<string, unknown> | null {
    for (const name of stampedHeaders) {
      const revoked = this.values.get(name);
      if (revoked === undefined) continue;
      const value = Object.hasOwn(stamps, name) ? stamps[name] : null;
      if (value === null || value === undefined) continue;
      for (const candidate of Array.isArray(value) ? value : [value]) {
        if (revoked.some((r) => pyEquals(r, candidate))) return { [name]: candidate };
      }
      // A single value also matches a revoked value equal to the whole list (`stamped == revoked`).
      if (!Array.isArray(value) && pyEquals(value, revoked)) return { [name]: value };
    }
    return null;
  }
}

/** celery/utils/functional.py `maybe_list`: a list (or tuple) as is, anything else in a list. */
export function maybeList(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Python `==` for decoded JSON values: `True == 1`, `1 == 1.0`; lists and dicts by content.
 */
export function pyEquals(a: unknown, b: unknown): boolean {
  const num = (v: unknown) => (typeof v === "boolean" ? Number(v) : v);
  const x = num(a);
  const y = num(b);
  if (typeof x === "number" && typeof y === "bigint") return Number.isInteger(x) && BigInt(x) === y;
  if (typeof x === "bigint" && typeof y === "number") return Number.isInteger(y) && x === BigInt(y);
  if (Array.isArray(x) || Array.isArray(y)) {
    return (
      Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => pyEquals(v, y[i]))
    );
  }
  if (isPlainObject(x) || isPlainObject(y)) {
    if (!isPlainObject(x) || !isPlainObject(y)) return false;
    const keys = Object.keys(x);
    return (
      keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && pyEquals(x[k], y[k]))
    );
  }
  return x === y;
}

/**
 * The `headers` argument of `revoke_by_stamped_headers`: a dict, or the command line's list of
 * `key=value` strings (`{h.split('=')[0]: h.split('=')[1] for h in headers}`). Null when neither.
 */
export function stampedHeadersArgument(value: unknown): Record<string, unknown> | null {
  if (isPlainObject(value)) return value;
  if (!Array.isArray(value)) return null;
  const out: Record<string, unknown> = {};
  for (const item of value) {
    if (typeof item !== "string" || !item.includes("=")) return null;
    const parts = item.split("=");
    setOwn(out, parts[0] as string, parts[1]);
  }
  return out;
}

/**
 * Python's repr of the `defaultdict(set)` the terminate reply shows:
 * `defaultdict(<class 'set'>, {'name': {'value'}})` (set members in the order they matched;
 * Python's own order depends on the hash seed when a set has several).
 */
export function defaultdictOfSetsRepr(mapping: Map<string, unknown[]>): string {
  const items = [...mapping].map(([name, values]) => `${pyRepr(name)}: {${values.map(pyRepr).join(", ")}}`);
  return `defaultdict(<class 'set'>, {${items.join(", ")}})`;
}
