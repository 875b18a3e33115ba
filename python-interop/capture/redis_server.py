"""A throwaway redis-server on a unix socket, and a MONITOR recorder.

The server is a direct child of the capture process (no daemon, no TCP port), started with no
persistence. The recorder keeps every command the server executed, parsed back into exact bytes
from MONITOR's quoted output, so a fixture can record what Celery really sent.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

# Commands that are connection housekeeping of the client library, not Celery's wire behaviour.
HOUSEKEEPING = {"CLIENT", "HELLO", "PING", "ECHO", "INFO", "COMMAND", "SELECT", "FLUSHALL", "MONITOR",
                # The result consumer's pub/sub connection sends these without waiting for a reply,
                # so where they land among the other connections' commands (and whether an
                # UNSUBSCRIBE lands before the end marker at all) is a race, not wire behaviour.
                "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE"}


class RedisServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="cfx-", dir="/tmp")  # short: unix socket paths must be < 108 bytes
        self.socket_path = os.path.join(self.dir, "r.sock")
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install -y redis-server")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.socket_path, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start (exit {self.proc.poll()}), see {self.dir}/log")
            time.sleep(0.01)
        import redis  # the venv's redis-py

        self.client = redis.Redis(unix_socket_path=self.socket_path)
        self.version = self.client.info("server")["redis_version"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def encode_command(args) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(f"${len(raw)}\r\n".encode() + raw + b"\r\n")
    return b"".join(out)


_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\x07", "b": b"\x08", "\\": b"\\", '"': b'"'}


def parse_monitor_args(text: str) -> list[bytes]:
    """Parses the quoted argument list of one MONITOR line (redis sdscatrepr escaping)."""
    args: list[bytes] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if text[i] != '"':
            raise ValueError(f"unexpected MONITOR text at {i}: {text[i:i + 40]!r}")
        i += 1
        buf = bytearray()
        while text[i] != '"':
            ch = text[i]
            if ch == "\\":
                nxt = text[i + 1]
                if nxt == "x":
                    buf.append(int(text[i + 2:i + 4], 16))
                    i += 4
                    continue
                buf += _ESCAPES[nxt]
                i += 2
                continue
            buf += ch.encode("latin-1")
            i += 1
        args.append(bytes(buf))
        i += 1
    return args


class Monitor:
    """Records every command the server runs; markers (ECHO) delimit one capture."""

    def __init__(self, socket_path: str) -> None:
        self.conn = socket.socket(socket.AF_UNIX)
        self.conn.connect(socket_path)
        self.conn.sendall(b"MONITOR\r\n")
        self.lines: list[tuple[str, list[bytes]]] = []  # (origin: "client" | "lua", args)
        self.cond = threading.Condition()
        self.buffer = b""
        self._first = True
        threading.Thread(target=self._read, daemon=True).start()
        self.marker_client = socket.socket(socket.AF_UNIX)
        self.marker_client.connect(socket_path)
        self._n = 0

    def _read(self) -> None:
        while True:
            try:
                chunk = self.conn.recv(1 << 20)
            except OSError:
                return
            if not chunk:
                return
            self.buffer += chunk
            while b"\r\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\r\n", 1)
                if self._first:  # "+OK"
                    self._first = False
                    continue
                # MONITOR escapes every non-printable byte, so the line itself is ASCII.
                text = line.decode("latin-1")[1:]
                head, _, rest = text.partition("] ")
                origin = "lua" if head.endswith(" lua") else "client"
                with self.cond:
                    self.lines.append((origin, parse_monitor_args(rest)))
                    self.cond.notify_all()

    def mark(self) -> int:
        """Sends a marker through the server and waits until MONITOR has shown it; returns its index."""
        self._n += 1
        token = f"fixture-mark-{self._n}".encode()
        self.marker_client.sendall(encode_command(["ECHO", token]))
        self.marker_client.recv(4096)
        with self.cond:
            ok = self.cond.wait_for(lambda: any(a == [b"ECHO", token] for _, a in self.lines[-50:]), timeout=10)
            if not ok:
                raise RuntimeError("MONITOR did not show the marker")
            return len(self.lines)

    def between(self, start: int, end: int, include_lua: bool = False) -> list[list[bytes]]:
        with self.cond:
            picked = self.lines[start:end - 1]
        return [args for origin, args in picked
                if (include_lua or origin == "client") and args[0].upper().decode() not in HOUSEKEEPING]

    def wait_for(self, start: int, predicate, timeout: float = 20.0) -> list[bytes]:
        """Waits for a command after index `start` that satisfies predicate(args)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for origin, args in self.lines[start:]:
                    if origin == "client" and predicate(args):
                        return args
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("command not seen on MONITOR")
                self.cond.wait(left)

    def close(self) -> None:
        for s in (self.conn, self.marker_client):
            try:
                s.close()
            except OSError:
                pass
