import { ConfigError } from "../errors.js";

/**
 * Celery's crontab field syntax (celery/schedules.py `crontab_parser` and
 * `crontab._expand_cronspec`, 5.7.0), reproduced rule for rule so a spec
 * Celery accepts expands to the same set here and a spec it rejects is
 * rejected with the same reason:
 *
 *     groups  :: expr ( ',' expr ) *       expr :: ( '*' | range ) ( '/' steps ) ?
 *     range   :: number ( '-' number ) ?   number :: digits | a month or weekday name
 *
 * Quirks kept on purpose: a range whose end is below its start wraps around
 * (`fri-mon`), names are accepted in every field (month names first, then
 * weekday names, by their first three letters), text after a complete
 * `a-b/n` or `a-b` is ignored as Python's `re.match` ignores it, and
 * `*`/n steps slice the expanded list (`[::n]`), they are not arithmetic.
 */

/** A crontab spec Celery would reject; the message carries Celery's reason. */
export class CrontabParseError extends ConfigError {
  constructor(message: string) {
    super("crontab", message);
  }
}

/** A field as Celery takes it: an int, a crontab string, or a list of ints. */
export type CronField = number | string | readonly number[];

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

// Python's `\w` on str: letters, digits, underscore (Unicode-aware).
const W = "[\\p{L}\\p{N}_]";
const RANGE_STEPS = new RegExp(`^(${W}+?)-(${W}+)/(${W}+)?`, "u");
const RANGE = new RegExp(`^(${W}+?)-(${W}+)`, "u");
const STAR_STEPS = /^\*\/([\p{L}\p{N}_]+)?/u;
const STAR = /^\*$/;

/** Python's `int(s)` on a str (ASCII digits, optional sign, `_` between digits, surrounding blanks). */
function pythonInt(s: string): number | null {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(s);
  if (!m) return null;
  const n = Number((m[2] ?? "").replace(/_/g, ""));
  return m[1] === "-" ? -n : n;
}

function intOrThrow(s: string): number {
  const n = pythonInt(s);
  if (n === null) throw new CrontabParseError(`invalid literal for int() with base 10: '${s}'`);
  return n;
}

/** celery/schedules.py `crontab_parser(max_, min_)`. */
export class CrontabParser {
  constructor(
    readonly max: number = 60,
    readonly min: number = 0,
  ) {}

  parse(spec: string): Set<number> {
    const acc = new Set<number>();
    for (const part of spec.split(",")) {
      if (part === "") throw new CrontabParseError("empty part");
      for (const n of this.parsePart(part)) acc.add(n);
    }
    return acc;
  }

  private parsePart(part: string): number[] {
    let m = RANGE_STEPS.exec(part);
    if (m) {
      if (!m[3]) throw new CrontabParseError("empty filter");
      return slice(this.expandRange(m[1] ?? "", m[2]), intOrThrow(m[3]));
    }
    m = RANGE.exec(part);
    if (m) return this.expandRange(m[1] ?? "", m[2]);
    m = STAR_STEPS.exec(part);
    if (m) {
      if (!m[1]) throw new CrontabParseError("empty filter");
      return slice(this.expandStar(), intOrThrow(m[1]));
    }
    if (STAR.test(part)) return this.expandStar();
    return this.expandRange(part, undefined);
  }

  private expandRange(from: string, to: string | undefined): number[] {
    const fr = this.expandNumber(from);
    if (to === undefined) return [fr];
    const end = this.expandNumber(to);
    if (end < fr) return [...range(fr, this.min + this.max), ...range(this.min, end + 1)];
    return range(fr, end + 1);
  }

  private expandStar(): number[] {
    return range(this.min, this.max + this.min);
  }

  private expandNumber(s: string): number {
    if (s.startsWith("-")) throw new CrontabParseError("negative numbers not supported");
    let i = pythonInt(s);
    if (i === null) {
      const abbreviation = s.slice(0, 3).toLowerCase();
      const month = MONTHS.indexOf(abbreviation);
      const day = WEEKDAYS.indexOf(abbreviation);
      if (month >= 0) i = month + 1;
      else if (day >= 0) i = day;
      else throw new CrontabParseError(`Invalid weekday literal '${s}'.`);
    }
    const maxVal = this.min + this.max - 1;
    if (i > maxVal) throw new CrontabParseError(`Invalid end range: ${i} > ${maxVal}.`);
    if (i < this.min) throw new CrontabParseError(`Invalid beginning range: ${i} < ${this.min}.`);
    return i;
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** Python's `list[::step]` for a positive step (0 is Python's ValueError). */
function slice(list: number[], step: number): number[] {
  if (step === 0) throw new CrontabParseError("slice step cannot be zero");
  if (step < 0) return slice([...list].reverse(), -step);
  return list.filter((_, i) => i % step === 0);
}

/**
 * celery/schedules.py `crontab._expand_cronspec`: an int, a crontab string or
 * a list, checked against [min, min + max).
 */
export function expandCronspec(spec: CronField, max: number, min = 0): Set<number> {
  let result: Set<number>;
  if (typeof spec === "number") {
    if (!Number.isInteger(spec)) throw new CrontabParseError(`${spec} is not an integer`);
    result = new Set([spec]);
  } else if (typeof spec === "string") {
    result = new CrontabParser(max, min).parse(spec);
  } else if (Array.isArray(spec)) {
    for (const n of spec) {
      if (typeof n !== "number" || !Number.isInteger(n))
        throw new CrontabParseError(`a list must hold integers (got ${JSON.stringify(n)})`);
    }
    result = new Set(spec);
  } else {
    throw new CrontabParseError(
      `Argument cronspec needs to be of any of the following types: int, str, or an iterable type. ${typeof spec} was given.`,
    );
  }
  for (const n of result) {
    if (n >= max + min || n < min) {
      throw new CrontabParseError(
        `Invalid crontab pattern.  Valid range is ${min}-${max - 1 + min}. '${n}' was found.`,
      );
    }
  }
  return result;
}
