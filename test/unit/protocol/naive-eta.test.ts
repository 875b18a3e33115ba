/**
 * A naive `eta`/`expires` (no UTC offset) is UTC, as Celery 5.7's worker reads it
 * (celery/worker/request.py `Request.__init__` -> celery/utils/time.py `maybe_make_aware`,
 * `naive_as_utc=True`): the app's `timezone`/`enable_utc` and the host's zone play no part.
 * test/interop/naive-eta-timezone.test.ts compares the same reads with a real Celery `Request`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTaskMessage } from "../../../src/protocol/parse.js";

const ID = "94a75db6-58a0-4a39-b328-5bb7fb2afa15";

function requestWith(eta: string, expires: string | null) {
  return parseTaskMessage({
    headers: { lang: "py", task: "tasks.add", id: ID, eta, expires, retries: 0, timelimit: [null, null] },
    properties: { correlation_id: ID },
    payload: [[], {}, { callbacks: null, errbacks: null, chain: null, chord: null }],
  });
}

describe("naive eta/expires are UTC", () => {
  it("reads a naive value at the same instant as its Z form, whatever the host zone", () => {
    const previous = process.env.TZ;
    process.env.TZ = "Europe/Paris"; // a parser using local-time Date would be an hour off
    try {
      fc.assert(
        fc.property(
          fc.date({
            min: new Date("1970-01-01T00:00:00Z"),
            max: new Date("2199-12-31T00:00:00Z"),
            noInvalidDate: true,
          }),
          (d) => {
            const z = d.toISOString();
            const naive = z.slice(0, -1);
            const req = requestWith(naive, naive);
            expect(req.eta?.getTime()).toBe(d.getTime());
            expect(req.expires?.getTime()).toBe(d.getTime());
          },
        ),
      );
      expect(requestWith("2026-01-15T10:00:00", null).eta?.toISOString()).toBe("2026-01-15T10:00:00.000Z");
      expect(requestWith("2026-01-15T10:00:00+01:00", null).eta?.toISOString()).toBe(
        "2026-01-15T09:00:00.000Z",
      );
    } finally {
      if (previous === undefined) delete process.env.TZ;
      else process.env.TZ = previous;
    }
  });
});
