/**
 * TypeScript stand-ins for the Python values that kombu's JSON codec wraps in
 * `{"__type__": …, "__value__": …}` markers (kombu >= 5.3, kombu/utils/json.py
 * `_register_default_types`, 5.7.0).
 *
 * | Python           | TypeScript                                   | marker                          |
 * |------------------|----------------------------------------------|---------------------------------|
 * | `datetime`       | `Date` (or {@link PyDateTime}, lossless)     | `datetime`, `isoformat()` text  |
 * | `date`           | {@link PyDate}                               | `date`, `YYYY-MM-DD`            |
 * | `time`           | {@link PyTime}                               | `time`, `isoformat()` text      |
 * | `Decimal`        | {@link PyDecimal}                            | `decimal`, `str(d)`             |
 * | `UUID`           | {@link PyUUID}                               | `uuid`, `{"hex": "<32 hex>"}`   |
 * | `bytes`          | `Uint8Array` (a `Buffer` is one)             | `bytes` (UTF-8 text) / `base64` |
 *
 * Why `Date` loses information, and what to do about it:
 * - A JS `Date` holds milliseconds; Python's `datetime` holds microseconds. Decoding a
 *   datetime into a `Date` drops the last three fraction digits.
 * - A JS `Date` is an instant with no offset; Python's aware datetime keeps its UTC offset.
 *   Decoding keeps the instant, not the offset.
 * - A naive Python datetime (no offset) decodes as UTC, because Celery treats a naive
 *   `eta`/`expires` as UTC (celery/app/amqp.py as_task_v2 with `utc=True`).
 * {@link PyDateTime} keeps the exact `isoformat()` text (microseconds, offset, or naivety),
 * and is encoded verbatim, so a value relayed from Python to Python through TS is unchanged.
 *
 * Every class holds its canonical wire text in `value`; `toString()` and `toJSON()` return
 * it, and `equals()` compares that text (so `PyDecimal("1.10")` is not equal to
 * `PyDecimal("1.1")`, although Python's `==` would say so: equality here means "same wire text").
 */
import { EncodeError } from "../errors.js";

// Python's datetime.isoformat() shape, plus the forms datetime.fromisoformat (3.11+) commonly
// gets from other producers: a space separator, 1-6 fraction digits, `Z`, offsets with seconds.
const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE =
  /^(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?$/;
// Python's Decimal(str) grammar (decimal module docs, "numeric-string"), without `_` separators.
const DECIMAL_RE = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf(?:inity)?|s?[Nn]a[Nn]\d*)$/i;
const UUID_HEX_RE = /^[0-9a-fA-F]{32}$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function validDate(y: number, m: number, d: number): boolean {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Minutes east of UTC for an offset such as `+05:30`, `-0800` or `Z`. */
function offsetMinutes(offset: string | undefined): number {
  if (offset === undefined || offset === "Z") return 0;
  const digits = offset.slice(1).replace(/:/g, "");
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
  const seconds = digits.length > 4 ? Number(digits.slice(4)) : 0;
  const total = minutes + seconds / 60;
  return offset[0] === "-" ? -total : total;
}

/**
 * A Python `datetime` kept as its exact ISO text (`datetime.isoformat()`), e.g.
 * `2024-01-02T03:04:05.678901+05:30` or a naive `2024-01-02T03:04:05`.
 * Lossless: encoded verbatim, so microseconds, the offset and naivety survive.
 */
export class PyDateTime {
  readonly value: string;

  constructor(value: string) {
    const m = DATETIME_RE.exec(value);
    if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3])) || !validClock(m[4], m[5], m[6])) {
      throw new TypeError(`PyDateTime: not an ISO-8601 datetime Python can read: ${JSON.stringify(value)}`);
    }
    this.value = value;
  }

  /**
   * The Python text for a JS `Date`: UTC, always 6 fraction digits and an explicit
   * `+00:00`: `…Z` and 3 digits break Celery 5.3.0-5.3.4 on Python < 3.11, which parses with
   * `datetime.fromisoformat` (celery/utils/time.py `maybe_iso8601`, 5.3.0).
   */
  static fromDate(date: Date): PyDateTime {
    return new PyDateTime(formatDateUtc(date));
  }

  /** True when the text carries no UTC offset (a naive Python datetime). */
  get naive(): boolean {
    return DATETIME_RE.exec(this.value)?.[8] === undefined;
  }

  /** The instant as a JS `Date` (milliseconds; a naive value is read as UTC, as Celery does). */
  toDate(): Date {
    const m = DATETIME_RE.exec(this.value)!;
    const fraction = (m[7] ?? "").padEnd(6, "0");
    // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
    const date = new Date(0);
    date.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6] ?? "0"), Math.floor(Number(fraction) / 1000));
    date.setTime(date.getTime() - offsetMinutes(m[8]) * 60_000);
    return date;
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }

  equals(other: unknown): boolean {
    return other instanceof PyDateTime && other.value === this.value;
  }
}

function validClock(h: string | undefined, min: string | undefined, s: string | undefined): boolean {
  return Number(h) <= 23 && Number(min) <= 59 && Number(s ?? "0") <= 59;
}

/**
 * Python's `datetime.isoformat()` text for a JS `Date`, in UTC with 6 fraction digits.
 * Throws EncodeError for an invalid Date or a year outside Python's 1..9999.
 */
export function formatDateUtc(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new EncodeError("Cannot encode an invalid Date");
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) {
    throw new EncodeError(`Cannot encode Date ${date.toISOString()}: Python datetimes hold years 1..9999`);
  }
  // toISOString() is `YYYY-MM-DDTHH:MM:SS.mmmZ` for years 0..9999.
  return `${date.toISOString().slice(0, 23)}000+00:00`;
}

/** A Python `date` as `YYYY-MM-DD` (`date.isoformat()`). */
export class PyDate {
  readonly value: string;

  constructor(value: string) {
    const m = DATE_RE.exec(value);
    if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
      throw new TypeError(`PyDate: not a YYYY-MM-DD date: ${JSON.stringify(value)}`);
    }
    this.value = value;
  }

  /** The UTC calendar day of a JS `Date`. */
  static fromDate(date: Date): PyDate {
    return new PyDate(
      `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`,
    );
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }

  equals(other: unknown): boolean {
    return other instanceof PyDate && other.value === this.value;
  }
}

/** A Python `time` as its `isoformat()` text, e.g. `03:04:05.120000` or `03:04:05+02:00`. */
export class PyTime {
  readonly value: string;

  constructor(value: string) {
    const m = TIME_RE.exec(value);
    if (!m || !validClock(m[1], m[2] ?? "0", m[3])) {
      throw new TypeError(`PyTime: not an ISO-8601 time: ${JSON.stringify(value)}`);
    }
    this.value = value;
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }

  equals(other: unknown): boolean {
    return other instanceof PyTime && other.value === this.value;
  }
}

/**
 * A Python `Decimal` as its `str()` text, e.g. `1.10` (trailing zeros kept).
 * Lossless: the digits are never turned into a JS number. The text is normalized to exactly what
 * Python's `str(Decimal(text))` prints (`0.0000001` -> `1E-7`, `inf` -> `Infinity`), so the wire
 * text and `equals()` agree with Python. A JS number is read through its shortest text (`0.1`),
 * not its binary expansion as `Decimal(0.1)` would be.
 */
export class PyDecimal {
  readonly value: string;

  constructor(value: string | number | bigint) {
    const text = typeof value === "string" ? value.trim() : String(value);
    const normalized = DECIMAL_RE.test(text) ? decimalStr(text) : undefined;
    if (normalized === undefined) {
      throw new TypeError(`PyDecimal: not a decimal number: ${JSON.stringify(value)}`);
    }
    this.value = normalized;
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }

  equals(other: unknown): boolean {
    return other instanceof PyDecimal && other.value === this.value;
  }
}

const DECIMAL_PARTS = /^([+-]?)(?:(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?|(inf|infinity)|(s?nan)(\d*))$/i;

/** CPython `Decimal.__str__` (Lib/_pydecimal.py, eng=False) applied to a parsed numeric string. */
function decimalStr(text: string): string | undefined {
  const m = DECIMAL_PARTS.exec(text);
  if (!m) return undefined;
  const sign = m[1] === "-" ? "-" : "";
  if (m[5] !== undefined) return `${sign}Infinity`;
  if (m[6] !== undefined) {
    const payload = (m[7] ?? "").replace(/^0+/, "");
    return `${sign}${m[6].toLowerCase() === "snan" ? "sNaN" : "NaN"}${payload}`;
  }
  const whole = m[2] ?? "";
  const fraction = m[3] ?? "";
  if (whole === "" && fraction === "") return undefined;
  const digits = `${whole}${fraction}`.replace(/^0+/, "") || "0";
  const exp = Number(m[4] ?? "0") - fraction.length;
  const leftDigits = exp + digits.length;
  const dotPlace = exp <= 0 && leftDigits > -6 ? leftDigits : 1;
  let body: string;
  if (dotPlace <= 0) body = `0.${"0".repeat(-dotPlace)}${digits}`;
  else if (dotPlace >= digits.length) body = `${digits}${"0".repeat(dotPlace - digits.length)}`;
  else body = `${digits.slice(0, dotPlace)}.${digits.slice(dotPlace)}`;
  const shift = leftDigits - dotPlace;
  return `${sign}${body}${shift === 0 ? "" : `E${shift > 0 ? "+" : "-"}${Math.abs(shift)}`}`;
}

/**
 * A Python `uuid.UUID`, held as the canonical lowercase hyphenated text (`str(uuid)`).
 * Accepts what `uuid.UUID(hex=…)` accepts: hyphens, braces and a `urn:uuid:` prefix are ignored.
 */
export class PyUUID {
  readonly value: string;

  constructor(value: string) {
    // mirrors uuid.UUID.__init__(hex=...): strip urn:uuid:, braces and hyphens, then 32 hex digits.
    const hex = value
      .replace(/^urn:/, "")
      .replace(/^uuid:/, "")
      .replace(/^\{|\}$/g, "")
      .replace(/-/g, "");
    if (!UUID_HEX_RE.test(hex)) {
      throw new TypeError(`PyUUID: badly formed hexadecimal UUID string: ${JSON.stringify(value)}`);
    }
    const h = hex.toLowerCase();
    this.value = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** The 32 lowercase hex digits without hyphens (`UUID.hex`), as kombu's JSON marker carries. */
  get hex(): string {
    return this.value.replace(/-/g, "");
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }

  equals(other: unknown): boolean {
    return other instanceof PyUUID && other.value === this.value;
  }
}
