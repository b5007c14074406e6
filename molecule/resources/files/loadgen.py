#!/usr/bin/python3
"""loadgen: a bounded HTTP load with one record per request.

Sends GET requests to URL at a steady rate until --duration seconds pass,
--count requests are sent, or --stop-file appears (whichever comes first),
each with a short --timeout, and records every request: when it started, how
long it took, whether it succeeded (an HTTP status below 500 and a body) and
who answered (the first line of the body: the lab's frontends answer their
host name), or why it failed.

Two modes:
  default      one new TCP connection per request (what most clients do; a
               director schedules every request afresh);
  --keepalive  N long-lived connections (--connections), each sending its
               share of the rate. A connection stays on the real server the
               director picked for it, so a failure on it is attributed to
               that server (`server` of the failed record is the one that
               answered on that connection before). A server closing the
               connection cleanly (`Connection: close`) is not a failure.

Output: one JSON object per request in --out (JSON lines), and a JSON summary
on stdout (and in --summary): sent, ok, failed, answers per server, the first
and last failure, and the failures themselves (at most --max-failures).

Standard library only (it runs on a lab client with the machine's python3).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor


class Recorder:
    def __init__(self, out_path: str | None):
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.out = open(out_path, "w", encoding="utf-8") if out_path else None  # noqa: SIM115 (closed by close())

    def add(self, record: dict) -> None:
        with self.lock:
            self.records.append(record)
            if self.out:
                self.out.write(json.dumps(record, sort_keys=True) + "\n")

    def close(self) -> None:
        if self.out:
            self.out.close()


def parse_url(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"loadgen: --url {url!r}: only http://HOST[:PORT]/PATH")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


def answer_of(status: int, body: bytes) -> tuple[bool, str, str]:
    """(ok, server, error) of a complete response."""
    text = body.decode("utf-8", "replace").strip()
    server = text.splitlines()[0][:64] if text else ""
    if status >= 500:
        return False, server, f"HTTP {status}"
    if not text:
        return False, "", f"HTTP {status} with an empty body"
    return True, server, ""


def error_name(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return f"{type(exc).__name__}: {exc}"[:120]


def one_request(host: str, port: int, path: str, timeout: float, seq: int, rec: Recorder) -> None:
    """A request on a connection of its own."""
    t0 = time.time()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    record = {"seq": seq, "t": round(t0, 4), "conn": None}
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        ok, server, error = answer_of(resp.status, resp.read())
        record.update(ok=ok, status=resp.status, server=server, error=error)
    except (OSError, http.client.HTTPException) as exc:
        record.update(ok=False, status=0, server="", error=error_name(exc))
    finally:
        conn.close()
    record["dt"] = round(time.time() - t0, 4)
    rec.add(record)


class KeepAliveWorker(threading.Thread):
    """One long-lived connection sending a request every `interval` seconds."""

    def __init__(self, index: int, args, host: str, port: int, path: str, rec: Recorder,
                 next_seq, should_stop, interval: float, start_at: float):
        super().__init__(daemon=True)
        self.index, self.args, self.host, self.port, self.path = index, args, host, port, path
        self.rec, self.next_seq, self.should_stop = rec, next_seq, should_stop
        self.interval, self.start_at = interval, start_at
        self.conn: http.client.HTTPConnection | None = None
        self.generation = 0      # connections opened by this worker
        self.server = ""         # who answered on the current connection

    def connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.args.timeout)
            self.generation += 1
            self.server = ""
        return self.conn

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def run(self) -> None:
        n = 0
        while True:
            due = self.start_at + n * self.interval
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            seq = self.next_seq()
            if seq is None or self.should_stop():
                break
            n += 1
            conn = self.connection()
            t0 = time.time()
            record = {"seq": seq, "t": round(t0, 4), "conn": f"{self.index}.{self.generation}"}
            try:
                conn.request("GET", self.path)
                resp = conn.getresponse()
                ok, server, error = answer_of(resp.status, resp.read())
                record.update(ok=ok, status=resp.status, server=server, error=error)
                if ok:
                    self.server = server
                if resp.will_close:
                    self.drop()          # Apache's MaxKeepAliveRequests: a clean close
            except (OSError, http.client.HTTPException) as exc:
                # Attributed to the server this connection was on, if any answered on it.
                record.update(ok=False, status=0, server=self.server, error=error_name(exc))
                self.drop()
            record["dt"] = round(time.time() - t0, 4)
            self.rec.add(record)
        self.drop()


def summarize(records: list[dict], started: float, ended: float, args) -> dict:
    records = sorted(records, key=lambda r: r["seq"])
    failures = [r for r in records if not r["ok"]]
    answers: dict[str, int] = {}
    for r in records:
        if r["ok"]:
            answers[r["server"]] = answers.get(r["server"], 0) + 1
    failed_by: dict[str, int] = {}
    for r in failures:
        failed_by[r["server"] or "-"] = failed_by.get(r["server"] or "-", 0) + 1
    return {
        "url": args.url,
        "mode": "keepalive" if args.keepalive else "connection per request",
        "connections": args.connections if args.keepalive else None,
        "rate": args.rate,
        "timeout": args.timeout,
        "started": round(started, 4),
        "ended": round(ended, 4),
        "sent": len(records),
        "ok": len(records) - len(failures),
        "failed": len(failures),
        "answers": answers,
        "failed_by_server": failed_by,
        "first_failure": failures[0]["t"] if failures else None,
        "last_failure": failures[-1]["t"] if failures else None,
        "failures": failures[: args.max_failures],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="http://HOST[:PORT]/PATH")
    p.add_argument("--rate", type=float, default=10.0, help="requests per second (default %(default)s)")
    p.add_argument("--duration", type=float, default=60.0,
                   help="stop sending after this many seconds (default %(default)s)")
    p.add_argument("--count", type=int, default=0, help="stop after this many requests (0: no limit)")
    p.add_argument("--stop-file", default="", help="stop sending once this file exists")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per request (default %(default)s)")
    p.add_argument("--keepalive", action="store_true", help="long-lived connections instead of one per request")
    p.add_argument("--connections", type=int, default=4, help="connections with --keepalive (default %(default)s)")
    p.add_argument("--out", default="", help="write one JSON line per request here")
    p.add_argument("--summary", default="", help="also write the summary here")
    p.add_argument("--max-failures", type=int, default=500, help="failures listed in the summary")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.timeout <= 0 or args.connections < 1:
        p.error("--rate, --duration, --timeout and --connections must be positive")
    host, port, path = parse_url(args.url)

    rec = Recorder(args.out or None)
    started = time.time()
    deadline = started + args.duration
    lock = threading.Lock()
    counter = [0]

    def should_stop() -> bool:
        return time.time() >= deadline or bool(args.stop_file and os.path.exists(args.stop_file))

    def next_seq():
        with lock:
            if args.count and counter[0] >= args.count:
                return None
            counter[0] += 1
            return counter[0]

    if args.keepalive:
        interval = args.connections / args.rate
        workers = [KeepAliveWorker(i, args, host, port, path, rec, next_seq, should_stop, interval,
                                   started + i * interval / args.connections)
                   for i in range(args.connections)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    else:
        # Enough threads that requests hanging until their timeout never slow the rate.
        with ThreadPoolExecutor(max_workers=int(args.rate * args.timeout) + 4) as pool:
            n = 0
            while True:
                delay = started + n / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                if should_stop():
                    break
                seq = next_seq()
                if seq is None:
                    break
                n += 1
                pool.submit(one_request, host, port, path, args.timeout, seq, rec)
    ended = time.time()
    rec.close()
    summary = summarize(rec.records, started, ended, args)
    text = json.dumps(summary, sort_keys=True)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
