"""A fork server for the harness's Python snippets (test/support/python-forkserver.ts).

Each `runPython` / `pythonJson` used to start a fresh interpreter and import Celery, kombu,
redis-py and py-amqp again: ~0.35 s of CPU and 1-2 s of wall time per snippet on the 2-core CI
box, hundreds of times per run. This process imports those libraries once and forks one child
per snippet. The child then does what `python -c CODE ARGS...` (or `python SCRIPT ARGS...`)
would do after that point: it takes the snippet's environment, working directory, argv and
stdin, imports `interop_app` itself (so its env-driven configuration is read per snippet, as
before), runs the code as `__main__`, waits for non-daemon threads and runs the atexit handlers
as interpreter shutdown does, and exits with the same status (uncaught exception: traceback on
stderr and 1; `sys.exit(x)` as Python treats it).

Nothing here touches a broker: what is preloaded is only library code, the same files a fresh
interpreter would import. The interop app module itself is never imported here.

Protocol (one JSON object per line): requests on stdin
    {"id", "argv": [...], "env": {...}, "cwd", "stdout", "stderr", "stdin": path|null}
answers on stdout
    {"id", "pid"}                              once the child is forked
    {"id", "code": int|null, "signal": str|null}  once it has exited (reaped here)
EOF on stdin: every child still running is killed and reaped, then the server exits.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import sys

# Library code every snippet imports through interop_app (celery.app.base pulls most of it) and
# the transports/backends the interop tests use. Importing them reads no test settings.
import celery  # noqa: F401
import celery.app.base  # noqa: F401
import celery.backends.redis  # noqa: F401
import celery.canvas  # noqa: F401
import celery.exceptions  # noqa: F401
import celery.result  # noqa: F401
import kombu  # noqa: F401
import kombu.transport.pyamqp  # noqa: F401
import kombu.transport.redis  # noqa: F401

SERVER_PATH_ENTRY = sys.path[0]


def _write(obj: dict) -> None:
    os.write(1, (json.dumps(obj) + "\n").encode())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _run_child(request: dict, wake_fds: tuple[int, int]) -> None:
    """In the forked child: become `python -c CODE` / `python SCRIPT` and never return."""
    import atexit
    import importlib
    import threading
    import time
    import types

    # The signal dispositions a fresh interpreter starts with (SIGPIPE stays ignored, as Python
    # sets it at startup and this server inherited it).
    signal.set_wakeup_fd(-1)
    for fd in wake_fds:
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    stdin_path = request.get("stdin")
    stdin_fd = os.open(stdin_path if stdin_path else os.devnull, os.O_RDONLY)
    os.dup2(stdin_fd, 0)
    os.close(stdin_fd)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
        os.close(out)
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    # PYTHONUNBUFFERED, as every snippet runs with: each write reaches the file at once.
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding=encoding, errors=errors, write_through=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding=encoding, errors="backslashreplace", write_through=True
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr

    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    argv = request["argv"]
    if argv[0] == "-c":
        code, filename = argv[1], "<string>"
        sys.argv = ["-c", *argv[2:]]
        sys.path[0] = ""
    else:
        filename = os.path.abspath(argv[0])
        with open(filename, encoding="utf-8") as f:
            code = f.read()
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(filename)
    importlib.invalidate_caches()

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    if filename != "<string>":
        main.__file__ = filename
    sys.modules["__main__"] = main

    status = 0
    try:
        exec(compile(code, filename, "exec"), main.__dict__)
    except SystemExit as e:
        status = _exit_status(e.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    # Interpreter shutdown order (Py_FinalizeEx): join non-daemon threads, then atexit handlers.
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except SystemExit as e:
        status = _exit_status(e.code)
    except BaseException:
        status = status or 1
    os._exit(status)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def main() -> None:
    children: dict[int, str] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pending = b""
    stdin_open = True

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request_id = children.pop(pid, None)
            if request_id is None:
                continue
            if os.WIFSIGNALED(status):
                _write({"id": request_id, "code": None, "signal": _signal_name(os.WTERMSIG(status))})
            else:
                _write({"id": request_id, "code": os.WEXITSTATUS(status), "signal": None})

    while stdin_open:
        try:
            ready, _, _ = select.select([0, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        if 0 in ready:
            chunk = os.read(0, 65536)
            if not chunk:
                stdin_open = False
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not line.strip():
                    continue
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    try:
                        _run_child(request, (wake_r, wake_w))
                    finally:
                        os._exit(1)
                children[pid] = request["id"]
                _write({"id": request["id"], "pid": pid})
        reap()

    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while children:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        children.pop(pid, None)


if __name__ == "__main__":
    main()
