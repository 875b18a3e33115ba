/**
 * One headers object per message shape, reused for every publish of that shape.
 *
 * amqplib 2.x (lib/api_args.js `Args.publish`) wraps the headers it is given as
 * `Object.create(options.headers)` and its encoder walks that with `for...in`, so each publish
 * makes the given object a *prototype*: V8 gives every new headers object a prototype map of its
 * own and collects its keys the slow way. A raw amqplib loop publishing one headers object over
 * and over pays that once; a producer publishing a fresh table per message (every Celery message
 * has its own id) paid ~10 µs and ~2.8 KB more per message (measured: 27-29 vs 15 µs CPU per
 * confirmed publish). amqplib encodes the table inside `channel.publish`, before it returns, so
 * one object per shape can carry each message's values in turn.
 *
 * Same bytes: the reused table has the message's own enumerable keys in the same order (a message
 * whose keys differ gets a new table for its shape) and the same values, which amqplib encodes
 * exactly as it would the message's object.
 */

/** Most shapes kept (task names of one producer); past it the cache starts over. */
const MAX_SHAPES = 256;

export class HeaderTables {
  private readonly tables = new Map<string, { keys: string[]; table: Record<string, unknown> }>();

  /**
   * A table holding `headers`' members, valid until the next call (hand it to
   * `channel.publish` at once). `headers` must be a plain object with no `__proto__` own key.
   */
  fill(headers: Record<string, unknown>): Record<string, unknown> {
    const task = headers.task;
    const shapeKey = typeof task === "string" ? task : "";
    const known = this.tables.get(shapeKey);
    if (known !== undefined && sameKeys(known.keys, headers)) {
      const { keys, table } = known;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        table[key] = headers[key];
      }
      return table;
    }
    const keys = Object.keys(headers);
    const table: Record<string, unknown> = {};
    for (const key of keys) table[key] = headers[key];
    if (this.tables.size >= MAX_SHAPES && known === undefined) this.tables.clear();
    this.tables.set(shapeKey, { keys, table });
    return table;
  }
}

/** `headers` has exactly these own enumerable keys, in this order. */
function sameKeys(keys: readonly string[], headers: Record<string, unknown>): boolean {
  let i = 0;
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue;
    if (key !== keys[i]) return false;
    i++;
  }
  return i === keys.length;
}
