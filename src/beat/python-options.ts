import type { SendTaskOptions } from "../canvas/options.js";

/**
 * `apply_async` options as Python stores them (RedBeat's entry definition,
 * django-celery-beat's columns turned into Celery's `options` dict) to and
 * from Celeriac's camelCase {@link SendTaskOptions}. Dates travel as
 * `Date`; the caller's codec decides how a stored datetime looks.
 */

const SAME = [
  "queue",
  "exchange",
  "priority",
  "headers",
  "serializer",
  "compression",
  "shadow",
  "countdown",
  "expires",
  "eta",
  "link",
] as const;
const RENAMED: Record<string, keyof SendTaskOptions> = {
  routing_key: "routingKey",
  time_limit: "timeLimit",
  soft_time_limit: "softTimeLimit",
  ignore_result: "ignoreResult",
  link_error: "linkError",
  task_id: "taskId",
  reply_to: "replyTo",
};
const TO_PYTHON: Record<string, string> = Object.fromEntries([
  ...SAME.map((k) => [k, k]),
  ...Object.entries(RENAMED).map(([py, ts]) => [ts, py]),
]);

export interface ConvertedOptions {
  options: SendTaskOptions;
  /** Python option names Celeriac does not send (the caller logs them). */
  ignored: string[];
}

/** Python's options dict -> SendTaskOptions (`null` values are Python's "not set"). */
export function optionsFromPython(py: Record<string, unknown> | null | undefined): ConvertedOptions {
  const options: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(py ?? {})) {
    if (value === null || value === undefined) continue;
    if ((SAME as readonly string[]).includes(key)) options[key] = value;
    else if (RENAMED[key]) options[RENAMED[key]] = value;
    else ignored.push(key);
  }
  return { options: options as SendTaskOptions, ignored };
}

/** SendTaskOptions -> Python's options dict (snake_case). */
export function optionsToPython(options: SendTaskOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const py = TO_PYTHON[key];
    if (py) out[py] = value as unknown;
  }
  return out;
}
