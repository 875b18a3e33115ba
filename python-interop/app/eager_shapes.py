"""Eager-mode outcomes of a real Celery app, for test/interop/eager-parity.test.ts.

Runs the same task shapes the TS test runs with `handle.apply()` / `taskAlwaysEager`, through
Celery's own `Task.apply` / `task_always_eager` / `task_eager_propagates` (no broker: memory://),
and prints one JSON object: case name -> outcome. The TS test builds the same object from
Celeriac and compares the two.
"""

import json

from celery import Celery, chain, chord, group
from celery.exceptions import Ignore, Reject


def outcome(result=None, runs=None, thrown=None, extra=None):
    out = {"thrown": thrown}
    if result is not None:
        value = result.result
        is_exc = isinstance(value, BaseException)
        out.update(
            {
                "kind": type(result).__name__,
                "state": result.state,
                "result": None if is_exc else value,
                "exc_type": type(value).__name__ if is_exc else None,
            }
        )
    if runs is not None:
        out["runs"] = runs
    if extra:
        out.update(extra)
    return out


def make_app(always_eager, propagates):
    app = Celery("eager_shapes", broker="memory://", set_as_current=True)
    app.conf.task_always_eager = always_eager
    app.conf.task_eager_propagates = propagates
    runs = []
    calls = []

    @app.task(shared=False, bind=True, name="e.add")
    def add(self, a, b):
        runs.append([self.request.retries, self.request.is_eager])
        return a + b

    @app.task(shared=False, name="e.double")
    def double(n):
        return n * 2

    @app.task(shared=False, name="e.total")
    def total(values):
        return sum(values)

    @app.task(shared=False, name="e.nothing")
    def nothing():
        return None

    @app.task(shared=False, name="e.fail")
    def fail():
        raise ValueError("bad input")

    @app.task(shared=False, bind=True, name="e.flaky", max_retries=5)
    def flaky(self, n):
        runs.append([self.request.retries, self.request.args])
        if self.request.retries < 2:
            raise self.retry(countdown=3600, args=(n + 1,))
        return n

    @app.task(shared=False, bind=True, name="e.always", max_retries=2)
    def always(self):
        runs.append([self.request.retries])
        raise self.retry(countdown=1)

    @app.task(shared=False, bind=True, name="e.retry_exc")
    def retry_exc(self):
        runs.append([self.request.retries])
        raise self.retry(exc=KeyError("k"), max_retries=1)

    @app.task(shared=False, bind=True, name="e.auto", autoretry_for=(ValueError,), max_retries=3, retry_backoff=False)
    def auto(self):
        runs.append([self.request.retries])
        if self.request.retries < 1:
            raise ValueError("once")
        return "ok"

    @app.task(shared=False, name="e.reject")
    def reject():
        raise Reject("no", requeue=False)

    @app.task(shared=False, name="e.ignore")
    def ignore():
        raise Ignore()

    @app.task(shared=False, name="e.on_err")
    def on_err(request, exc, traceback):
        calls.append([request.id, type(exc).__name__, isinstance(traceback, str)])

    @app.task(shared=False, name="e.echo")
    def echo(value):
        return "ran"

    @app.task(shared=False, bind=True, name="e.record")
    def record(self, *args):
        calls.append([list(args), self.request.parent_id])
        return list(args)

    return app, runs, calls


def main():
    cases = {}

    app, runs, calls = make_app(always_eager=False, propagates=False)
    t = app.tasks
    r = t["e.add"].apply((2, 3))
    cases["ok"] = outcome(r, runs=list(runs), extra={"eager_result": r.get()})
    cases["none"] = outcome(t["e.nothing"].apply())
    r = t["e.fail"].apply()
    try:
        r.get()
        got = None
    except Exception as exc:  # noqa: BLE001
        got = type(exc).__name__
    cases["fail"] = outcome(r, extra={"get_raises": got})
    try:
        t["e.fail"].apply(throw=True)
        cases["fail_throw"] = outcome(thrown=None)
    except Exception as exc:  # noqa: BLE001
        cases["fail_throw"] = outcome(thrown=type(exc).__name__)
    runs.clear()
    r = t["e.flaky"].apply((10,))
    cases["retry_then_ok"] = outcome(r, runs=list(runs))
    runs.clear()
    cases["retry_exhausted"] = outcome(t["e.always"].apply(), runs=list(runs))
    runs.clear()
    cases["retry_exc"] = outcome(t["e.retry_exc"].apply(), runs=list(runs))
    runs.clear()
    cases["autoretry"] = outcome(t["e.auto"].apply(), runs=list(runs))
    cases["reject"] = outcome(t["e.reject"].apply())
    cases["ignore"] = outcome(t["e.ignore"].apply())

    app, runs, calls = make_app(always_eager=False, propagates=True)
    t = app.tasks
    runs.clear()
    try:
        t["e.flaky"].apply((1,))
        cases["retry_propagates"] = outcome(thrown=None, runs=list(runs))
    except Exception as exc:  # noqa: BLE001
        cases["retry_propagates"] = outcome(thrown=type(exc).__name__, runs=list(runs))
    try:
        t["e.fail"].apply()
        cases["fail_propagates"] = outcome(thrown=None)
    except Exception as exc:  # noqa: BLE001
        cases["fail_propagates"] = outcome(thrown=type(exc).__name__)
    cases["fail_throw_false"] = outcome(t["e.fail"].apply(throw=False))

    app, runs, calls = make_app(always_eager=True, propagates=False)
    t = app.tasks
    r = t["e.add"].delay(2, 3)
    cases["delay"] = outcome(r)
    r = t["e.add"].apply_async((1, 2), link=t["e.record"].s("tail"))
    cases["link"] = outcome(r, extra={"calls": [[c[0], c[1] == r.id] for c in calls]})
    calls.clear()
    r = t["e.fail"].apply_async(link_error=t["e.record"].s())
    cases["link_error"] = outcome(r, extra={"calls": [[[a == r.id for a in c[0]], c[1] == r.id] for c in calls]})
    calls.clear()
    r = t["e.fail"].apply_async(link_error=t["e.on_err"].s())
    cases["link_error_request"] = {"calls": [[c[0] == r.id, c[1], c[2]] for c in calls]}
    # apply_async under task_always_eager sends the args through the serializer; apply does not.
    try:
        t["e.echo"].delay(object())
        delay_raises = None
    except Exception as exc:  # noqa: BLE001
        delay_raises = type(exc).__name__
    cases["serializer_round_trip"] = {"delay_raises": delay_raises, "apply": t["e.echo"].apply((object(),)).result}
    r = chain(t["e.add"].s(2, 3), t["e.double"].s(), t["e.add"].s(10)).apply_async()
    cases["chain"] = outcome(r, extra={"parent": r.parent.get()})
    r = group(t["e.add"].s(1, 1), t["e.add"].s(2, 2)).apply_async()
    cases["group"] = {"kind": type(r).__name__, "values": r.get()}
    r = chord([t["e.add"].s(1, 1), t["e.add"].s(2, 2)], t["e.total"].s()).apply_async()
    cases["chord"] = outcome(r)
    print(json.dumps(cases))


if __name__ == "__main__":
    main()
