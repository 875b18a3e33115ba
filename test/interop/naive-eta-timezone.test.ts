/**
 * How a worker reads `eta`/`expires` when the app has a `timezone` and `enable_utc=False`.
 *
 * Celery 5.7 (celery/worker/request.py `Request.__init__`) reads them with
 * `maybe_make_aware(value, self.tzlocal)`, and celery/utils/time.py `maybe_make_aware` has
 * `naive_as_utc=True`: a naive value is made UTC first (`to_utc`), and `tzlocal`
 * (`app.conf.timezone`) only picks the zone the aware value is shown in. So a naive ETA is UTC
 * whatever `timezone`, `enable_utc` or the host's local zone say. A Python producer never writes a
 * naive countdown ETA: `AMQP.as_task_v2` adds the countdown to `app.now()`, which is aware in
 * `app.timezone` (it writes `+01:00` for Europe/Paris in winter); naive values come only from a
 * hand-made message or a user's naive `eta=datetime(...)`.
 *
 * Python's side is real Celery 5.7: a `Request` built from the same headers in an app with
 * `timezone="Europe/Paris", enable_utc=False`, on a host whose local zone is New York, so an
 * implementation that read naive values as app-local or host-local time would be an hour (or six)
 * off. The TS worker's request parser must land on the same instants.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseTaskMessage } from "../../src/protocol/parse.js";
import { celeryVenvPython } from "../support/services.js";

const PROBE = `
import json, sys
from datetime import timezone as dt_tz
from celery import Celery
from celery.worker.request import Request
from kombu.message import Message

cfg = json.load(sys.stdin)
app = Celery("tzprobe", set_as_current=False)
app.conf.enable_utc = cfg["enable_utc"]
app.conf.timezone = cfg["timezone"]

@app.task(name="tz.probe", shared=False)
def probe():
    pass

sent = app.amqp.as_task_v2("00000000-0000-0000-0000-000000000001", "tz.probe", countdown=cfg["countdown"])
cases = [{"eta": sent.headers["eta"], "expires": None}] + cfg["cases"]
reads = []
for case in cases:
    headers = dict(sent.headers, eta=case["eta"], expires=case["expires"])
    msg = Message(body=json.dumps(sent.body), headers=headers, content_type="application/json",
                  content_encoding="utf-8", delivery_info={"exchange": "", "routing_key": "celery"},
                  properties={})
    req = Request(msg, app=app, task=probe)
    reads.append({
        "eta": req.eta and req.eta.astimezone(dt_tz.utc).isoformat(),
        "expires": req.expires and req.expires.astimezone(dt_tz.utc).isoformat(),
    })
print(json.dumps({"headers": sent.headers, "body": sent.body, "cases": cases, "reads": reads}))
`;

interface ProbeOutput {
  headers: Record<string, unknown>;
  body: unknown;
  cases: { eta: string | null; expires: string | null }[];
  reads: { eta: string | null; expires: string | null }[];
}

async function pythonWorkerReads(config: object): Promise<ProbeOutput> {
  const python = await celeryVenvPython("5.7");
  const run = spawnSync(python, ["-c", PROBE], {
    input: JSON.stringify(config),
    env: { ...process.env, TZ: "America/New_York" },
  });
  if (run.status !== 0) throw new Error(`Celery probe failed (run npm run setup): ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString()) as ProbeOutput;
}

/** Python's isoformat keeps microseconds; a JS Date keeps milliseconds (floor, as the parser does). */
function instantMs(iso: string | null): number | null {
  return iso === null ? null : Math.floor(Date.parse(iso.replace(/(\.\d{3})\d*/, "$1")));
}

describe("naive eta/expires with timezone=Europe/Paris, enable_utc=False (Celery 5.7 worker as judge)", () => {
  it("the TS worker reads every eta/expires at the instant a Python worker does", async () => {
    const out = await pythonWorkerReads({
      enable_utc: false,
      timezone: "Europe/Paris",
      countdown: 30,
      cases: [
        { eta: "2026-01-15T10:00:00", expires: "2026-07-15T10:00:00.123456" },
        { eta: "2026-07-15T23:30:00.5", expires: null },
        { eta: "2026-01-15T10:00:00+01:00", expires: "2026-01-15T11:00:00" },
      ],
    });
    // What a Python producer in that app writes for a countdown: aware, in Paris time.
    expect(out.headers.eta).toMatch(/[+-]0[12]:00$/);
    expect(out.reads).toHaveLength(out.cases.length);
    for (const [i, tsCase] of out.cases.entries()) {
      const req = parseTaskMessage({
        headers: { ...out.headers, eta: tsCase.eta, expires: tsCase.expires },
        properties: { correlation_id: out.headers.id, content_type: "application/json" },
        payload: out.body,
      });
      const py = out.reads[i];
      expect({
        case: tsCase,
        eta: req.eta?.getTime() ?? null,
        expires: req.expires?.getTime() ?? null,
      }).toEqual({
        case: tsCase,
        eta: instantMs(py?.eta ?? null),
        expires: instantMs(py?.expires ?? null),
      });
    }
    // The naive ETA was read as UTC by Python, not as Paris (09:00Z) or New York (15:00Z) time.
    expect(out.reads[1]?.eta).toBe("2026-01-15T10:00:00+00:00");
  });
});
