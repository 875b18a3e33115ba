/**
 * The broadcast `pcre` matcher against kombu 5.7's own (`kombu.matcher.match(hostname, pattern,
 * "pcre")`, i.e. `re.match(pattern, hostname)`), run by the venv's Python on the same cases, and
 * bounded: a pattern from the wire cannot freeze the worker.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { addressedTo, MAX_PCRE_PATTERN, matchHostname } from "../../../src/control/mailbox.js";

const PYTHON = fileURLToPath(new URL("../../../python-interop/.venv-5.7/bin/python", import.meta.url));

const CASES: Array<[hostname: string, pattern: string]> = [
  ["celery@worker1", "celery@"],
  ["celery@worker1", "worker1"],
  ["celery@worker1", ".*worker1"],
  ["celery@worker1", "celery@worker\\d$"],
  ["celery@worker12", "celery@worker\\d$"],
  ["celery@worker1", "celery@worker\\d\\Z"],
  ["celery@worker1x", "celery@worker\\d\\Z"],
  ["celery@worker1", "\\Acelery"],
  ["ts@host", "(?P<who>ts|py)@(?P=who)?host"],
  ["py@host", "(?P<who>ts)@"],
  ["a.b@h", "a\\.b"],
  ["axb@h", "a\\.b"],
  ["w@h", "[unclosed"],
  ["w@h", ""],
  ["W@H", "w@h"],
];

function pythonMatches(cases: Array<[string, string]>): boolean[] {
  const script = `
import json, sys
from kombu.matcher import match
out = []
for hostname, pattern in json.load(sys.stdin):
    try:
        out.append(bool(match(hostname, pattern, "pcre")))
    except Exception:
        out.append(False)  # re.error: kombu's pidbox logs it and the node does not answer
print(json.dumps(out))
`;
  const run = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(cases) });
  if (run.status !== 0) {
    throw new Error(`python failed (run npm run setup for the Celery venv): ${run.stderr.toString()}`);
  }
  return JSON.parse(run.stdout.toString()) as boolean[];
}

describe("pcre broadcast matcher (kombu/matcher.py: re.match, anchored at the start)", () => {
  it("answers as kombu 5.7 does on the same hostnames and patterns", () => {
    const expected = pythonMatches(CASES);
    expect(CASES.map(([hostname, pattern]) => matchHostname(hostname, pattern, "pcre"))).toEqual(expected);
    // The old unanchored search would have matched these: kombu does not.
    expect(expected[1]).toBe(false);
    expect(matchHostname("celery@worker1", "worker1", "pcre")).toBe(false);
  });

  it("a catastrophic pattern from the wire matches nothing instead of freezing the worker", () => {
    const hostname = `${"a".repeat(64)}@h`;
    expect(matchHostname(hostname, "(a|a)*b", "pcre")).toBe(false);
    expect(matchHostname(hostname, "(a+)+b", "pcre")).toBe(false);
    expect(addressedTo({ pattern: "(a|aa)*$x", matcher: "pcre" }, hostname)).toBe(false);
    // The same engine still answers ordinary patterns afterwards.
    expect(matchHostname(hostname, "a{64}@", "pcre")).toBe(true);
  });

  it("a pattern longer than the limit matches nothing", () => {
    expect(matchHostname("w@h", `w@h|${"x".repeat(MAX_PCRE_PATTERN)}`, "pcre")).toBe(false);
    expect(matchHostname("w@h", `w@h|${"x".repeat(MAX_PCRE_PATTERN - 10)}`, "pcre")).toBe(true);
  });
});
