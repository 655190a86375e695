/** SQLSTATE class 22 (data exception) or 54 (program limit exceeded): a value no retry can store. */
export type UnstorableSqlState = `22${string}` | `54${string}`;

/** Whether a Postgres SQLSTATE says the value itself cannot be stored (class 22 or 54), whatever the retry. */
export function isUnstorableSqlState(state: string): state is UnstorableSqlState {
  return state.startsWith("22") || state.startsWith("54");
}

/**
 * A value the SQL store refuses as data (a column's type, a LIMIT's), refused by the memory stores before
 * anything changes: the
 * coordinator records a Result it cannot store as failed (reason `invalid_output`) instead of taking it back
 * forever, so the memory store has to refuse exactly what Postgres refuses, and accept what it accepts.
 * `code` is the SQLSTATE Postgres reports for the same value (class 22, data exception, or 54, a limit
 * exceeded), under the name Postgres errors give it, so a caller reads either alike; its message is
 * Postgres's too.
 */
export class UnstorableValueError extends Error {
  constructor(
    readonly code: UnstorableSqlState,
    message: string,
  ) {
    super(message);
    this.name = "UnstorableValueError";
  }
}

/**
 * A write the SQL store's constraints refuse (SQLSTATE class 23: a duplicate key, a check, a NOT NULL),
 * refused by the memory stores with the SQLSTATE and message Postgres gives.
 */
export class ConstraintViolationError extends Error {
  constructor(
    readonly code: `23${string}`,
    message: string,
  ) {
    super(message);
    this.name = "ConstraintViolationError";
  }
}

// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;
const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A text column's value: NUL is refused (Postgres text cannot hold it), and a lone surrogate becomes U+FFFD,
 * as the drivers' UTF-8 encoding of the parameter makes it.
 */
export function storableText(value: string): string {
  if (NUL.test(value)) throw new UnstorableValueError("22021", 'invalid byte sequence for encoding "UTF8": 0x00');
  return SURROGATE.test(value) ? value.replace(LONE_SURROGATE, "\ufffd") : value;
}

export function storableNullableText(value: string | null | undefined): string | null {
  return value === undefined || value === null ? null : storableText(value);
}

/**
 * A value's JSON text for a jsonb column. JSON.stringify recurses, so a value nested some thousands of levels
 * deep (a few KB of JSON) overflows the stack: that is refused like a value Postgres cannot hold (54001, its
 * own code for nesting past its stack), so the coordinator records the Result as unstorable instead of
 * taking it back forever.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError)
      throw new UnstorableValueError("54001", "the value nests too deeply to be encoded as JSON");
    throw err;
  }
}

/**
 * A jsonb column's value, given as the JSON text JSON.stringify made of it. JSON.stringify writes NUL and lone
 * surrogates as `\u` escapes (and no other character that way outside control characters), which jsonb
 * refuses: `\u0000` has no text form, and a lone surrogate is not Unicode. An escape counts only after an
 * even number of backslashes.
 */
export function storableJson(json: string): string {
  if (!json.includes("\\u")) return json;
  const escape = /(?<!\\)(?:\\\\)*\\u(0000|d[89a-f][0-9a-f]{2})/i.exec(json);
  if (escape === null) return json;
  if (escape[1] === "0000") throw new UnstorableValueError("22P05", "unsupported Unicode escape sequence");
  throw new UnstorableValueError("22P02", "invalid input syntax for type json");
}

/** The largest `integer` (int4) a column holds. */
export const INT4_MAX = 2_147_483_647;

/** An `integer` (int4) or `bigint` (int8) column's value. */
export function storableInteger(value: number, type: "integer" | "bigint"): number {
  if (!Number.isInteger(value))
    throw new UnstorableValueError("22P02", `invalid input syntax for type ${type}: "${String(value)}"`);
  const max = type === "integer" ? INT4_MAX : Number.MAX_SAFE_INTEGER;
  if (value > max || value < -max - 1)
    throw new UnstorableValueError("22003", `value "${String(value)}" is out of range for type ${type}`);
  return value;
}

/** 0001-01-01T00:00:00Z: Postgres has no year 0. */
const YEAR_ONE_MS = new Date(0).setUTCFullYear(1, 0, 1);
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * A `timestamptz` parameter in the contract's RFC 3339 form, as epoch milliseconds, checked as Postgres
 * checks it (which is stricter than Date.parse: no February 30th, no year 0; and looser: 24:00:00 and a
 * leap second roll over). Fractions are rounded to microseconds, as stored, then cut to milliseconds, as
 * the drivers return them.
 */
export function storableTimestamp(text: string): number {
  // What workers send (toISOString: UTC, milliseconds) is valid exactly when it survives a round trip and
  // is not in year 0; checking that costs half of the field-by-field parse below.
  if (text.length === 24) {
    const ms = Date.parse(text);
    if (ms >= YEAR_ONE_MS && new Date(ms).toISOString() === text) return ms;
  }
  const m = TIMESTAMP.exec(text);
  if (m === null)
    throw new UnstorableValueError("22007", `invalid input syntax for type timestamp with time zone: "${text}"`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Postgres parses the fraction as a double and rounds it with rint(): to microseconds, half to even.
  const micros = m[7] === undefined ? 0 : roundHalfEven(Number(`0.${m[7]}`) * 1e6);
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  const fieldsOk =
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    minute <= 59 &&
    hour <= 24 &&
    second <= 60 &&
    ((hour * 60 + minute) * 60 + second) * 1e6 + micros <= DAY_MICROS;
  if (!fieldsOk) throw new UnstorableValueError("22008", `date/time field value out of range: "${text}"`);
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (offsetHours > 15 || offsetMinutes > 59)
    throw new UnstorableValueError("22009", `time zone displacement out of range: "${text}"`);
  const at = new Date(0);
  // setUTCFullYear, unlike Date.UTC, takes years 1-99 as they are.
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, 0);
  const offsetMs = (m[8] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return at.getTime() + Math.floor(micros / 1000) - offsetMs;
}

/** A time of day may reach 24:00:00 exactly (so may a leap second, fraction and all, short of that). */
const DAY_MICROS = 86_400 * 1e6;

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
