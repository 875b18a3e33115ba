/**
 * The revoked-id set of a worker: celery/worker/state.py `revoked`, a
 * `LimitedSet` of at most `CELERY_WORKER_REVOKES_MAX` (50 000) ids kept
 * `CELERY_WORKER_REVOKE_EXPIRES` (10 800 s) each, oldest evicted first.
 * Insertion order is the age order (a re-added id moves to the end).
 */
export class RevokedSet {
  readonly maxlen: number;
  readonly expiresMs: number;
  private readonly entries = new Map<string, number>();

  constructor(options: { maxlen?: number; expires?: number } = {}) {
    this.maxlen = options.maxlen ?? envInt("CELERY_WORKER_REVOKES_MAX", 50_000);
    this.expiresMs = (options.expires ?? envInt("CELERY_WORKER_REVOKE_EXPIRES", 10_800)) * 1000;
  }

  add(id: string, now = Date.now()): void {
    this.entries.delete(id);
    this.entries.set(id, now);
    this.purge(now);
  }

  update(ids: Iterable<string>, now = Date.now()): void {
    for (const id of ids) this.add(id, now);
  }

  has(id: string, now = Date.now()): boolean {
    const at = this.entries.get(id);
    if (at === undefined) return false;
    if (this.expiresMs > 0 && now - at > this.expiresMs) {
      this.entries.delete(id);
      return false;
    }
    return true;
  }

  /** Drops expired ids and the oldest beyond `maxlen` (`LimitedSet.purge`). */
  purge(now = Date.now()): void {
    for (const [id, at] of this.entries) {
      const expired = this.expiresMs > 0 && now - at > this.expiresMs;
      if (!expired && this.entries.size <= this.maxlen) break;
      this.entries.delete(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Ids, oldest first (what 5.7's `hello` and `revoked` reply). */
  ids(now = Date.now()): string[] {
    this.purge(now);
    return [...this.entries.keys()];
  }

  /** `{id: timestamp}` as pre-5.7 `hello` sends it (LimitedSet's `_data` with monotonic stamps; we send epoch seconds). */
  asMap(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, at] of this.entries) out[id] = at / 1000;
    return out;
  }

  /**
   * `merge_revoked`: ids from another worker or a state file, in their
   * order, stamped with OUR clock. Accepts a list (5.7) or a map (≤ 5.6).
   */
  merge(received: unknown, now = Date.now()): number {
    let ids: string[] = [];
    if (Array.isArray(received)) ids = received.filter((v): v is string => typeof v === "string");
    else if (received !== null && typeof received === "object") ids = Object.keys(received);
    this.update(ids, now);
    return ids.length;
  }

  /** JSON for a state file (Celery's `--statedb` keeps `revoked`). */
  toJSON(): { revoked: [string, number][] } {
    return { revoked: [...this.entries] };
  }

  /** Restores from {@link toJSON} output; stamps are kept (same host, same clock). */
  load(data: unknown): void {
    if (data === null || typeof data !== "object") return;
    const list = (data as { revoked?: unknown }).revoked;
    if (!Array.isArray(list)) return;
    for (const item of list) {
      if (Array.isArray(item) && typeof item[0] === "string" && typeof item[1] === "number") {
        this.entries.delete(item[0]);
        this.entries.set(item[0], item[1]);
      }
    }
    this.purge();
  }
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number.parseInt(raw, 10);
  return Number.isFinite(n) ? n : fallback;
}
