"""Celery's own schedule arithmetic, as an oracle for test/unit/beat/schedule-oracle.test.ts.

Reads one JSON case per stdin line, answers one JSON line each, using the installed
celery.schedules (crontab, crontab_parser, schedule) with a fixed `now`:

    {"id": 1, "kind": "crontab", "fields": {"minute": "*/15", ...}, "tz": "Europe/Paris",
     "enable_utc": true, "deadline": null, "last_run_at": <ms since epoch>, "now": <ms>}
    {"id": 2, "kind": "interval", "seconds": 90.5, "relative": false, ...}
    {"id": 3, "kind": "solar", "event": "sunrise", "lat": 48.8, "lon": 2.3, ...}  (needs ephem)

-> {"id": 1, "sets": {"minute": [0, 15, 30, 45], ...}, "remaining": <ms>, "is_due": false, "next": <s>}
   or {"id": 1, "error": "ValueError", "message": "..."} when Celery rejects the spec.
"""
import json
import sys
from datetime import datetime, timedelta, timezone

from celery import Celery
from celery.schedules import crontab, schedule, solar

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_apps = {}


def app_for(tz, enable_utc, deadline):
    key = (tz, enable_utc, deadline)
    if key not in _apps:
        app = Celery(f"oracle{len(_apps)}", set_as_current=False)
        app.conf.timezone = tz
        app.conf.enable_utc = enable_utc
        app.conf.beat_cron_starting_deadline = deadline
        _apps[key] = app
    return _apps[key]


def at(app, ms):
    # Exact to the microsecond (no float seconds), in the app's zone as app.now() gives it.
    return (EPOCH + timedelta(milliseconds=ms)).astimezone(app.timezone)


def answer(case):
    app = app_for(case.get("tz"), case.get("enable_utc", True), case.get("deadline"))
    now = at(app, case["now"])
    nowfun = lambda: now  # noqa: E731
    if case["kind"] == "crontab":
        s = crontab(**case["fields"], app=app, nowfun=nowfun)
        sets = {name: sorted(getattr(s, name)) for name in
                ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")}
    elif case["kind"] == "solar":
        s = solar(case["event"], case["lat"], case["lon"], app=app, nowfun=nowfun)
        sets = None
    else:
        s = schedule(timedelta(seconds=case["seconds"]), relative=case["relative"], app=app, nowfun=nowfun)
        sets = None
    out = {"id": case["id"], "sets": sets}
    if "last_run_at" in case:
        last = at(app, case["last_run_at"])
        out["remaining"] = s.remaining_estimate(last) / timedelta(milliseconds=1)
        due, nxt = s.is_due(last)
        out["is_due"] = bool(due)
        out["next"] = nxt
    return out


def main():
    for line in sys.stdin:
        case = json.loads(line)
        try:
            out = answer(case)
        except Exception as exc:  # the oracle reports Celery's rejection, the test compares it
            out = {"id": case["id"], "error": type(exc).__name__, "message": str(exc)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
