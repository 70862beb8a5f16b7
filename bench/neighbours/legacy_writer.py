"""A legacy writer as a real Python script writes: the standard library's sqlite3 with its
defaults (timeout 5 s through SQLite's own busy handler, the default isolation_level, so a
deferred BEGIN is issued before the first INSERT, and no retry of its own), committing a few
rows at a time into its own table.

Run by the neighbours benchmark (bench/neighbours.ts) and the test helpers
(test/helpers/neighbours.ts) as: python3 legacy_writer.py '<settings as JSON>'. It speaks the
contenders' protocol (src/loadtest/contenders/protocol.ts): one JSON object per line on
stdout, {"event": "ready"} once connected, {"event": "result", ...} at the end. It stops when
its stdin closes, when its parent dies, or after maxMs, whichever comes first.
"""
import json
import os
import re
import sqlite3
import sys
import threading
import time

ENGINE_TABLES = {"transactions", "job_log", "rejected_rows"}


def summarize(samples):
    """Nearest-rank percentiles, as src/loadtest/stats.ts computes them."""
    ordered = sorted(samples)

    def rank(p):
        if not ordered:
            return 0
        index = min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))
        return round(ordered[int(index)], 2)

    return {
        "count": len(ordered),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "p999": rank(99.9),
        "max": round(ordered[-1], 2) if ordered else 0,
    }


def emit(event):
    try:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os._exit(0)


def main():
    settings = json.loads(sys.argv[1])
    table = settings["table"]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table) or table.lower() in ENGINE_TABLES or re.match(r"(?i)(sqlite_|writer_)", table):
        raise SystemExit(f"not a table a contender may write to: {table}")
    writer = settings.get("writer", "python")
    rows_per_transaction = int(settings["rowsPerTransaction"])
    pause_s = float(settings.get("pauseMs", 10)) / 1000
    deadline = time.monotonic() + float(settings["maxMs"]) / 1000
    parent = os.getppid()

    stopped = threading.Event()

    def watch_stdin():
        # EOF: the parent closed our stdin, or died.
        # The raw file descriptor, not sys.stdin: a daemon thread blocked inside the buffered
        # reader holds its lock, and the interpreter aborts at exit when it finds it taken.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        finally:
            stopped.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    # Python's defaults on purpose: timeout=5.0 unless told otherwise, isolation_level "".
    timeout_s = float(settings.get("busyTimeoutMs", 5000)) / 1000
    conn = sqlite3.connect(settings["database"], timeout=timeout_s)
    # Its own table, made when missing, inside the first round: a lock met there is counted
    # like any other (IF NOT EXISTS writes nothing once the table is there).
    create = f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT, written_at INTEGER)"
    created = False
    insert = f"INSERT INTO {table} (writer, seq, payload, written_at) VALUES (?, ?, ?, ?)"

    latencies, attempts, ordered = [], [], []
    codes, by_message, distinct = {}, {}, []
    transactions = rows_committed = errors = 0
    emit({"event": "ready", "pid": os.getpid()})
    started = time.perf_counter()
    while not stopped.is_set() and time.monotonic() < deadline and os.getppid() == parent:
        began = time.perf_counter()
        try:
            if not created:
                conn.execute(create)
                created = True
            conn.executemany(insert, [
                (writer, rows_committed + i, f"note {rows_committed + i} of {writer}", int(time.time() * 1000))
                for i in range(rows_per_transaction)
            ])
            conn.commit()
            latencies.append((time.perf_counter() - began) * 1000)
            transactions += 1
            rows_committed += rows_per_transaction
        except sqlite3.Error as error:
            message = str(error)
            code = getattr(error, "sqlite_errorname", None) or type(error).__name__
            errors += 1
            codes[code] = codes.get(code, 0) + 1
            by_message[message] = by_message.get(message, 0) + 1
            if len(ordered) < 1000:
                ordered.append(message)
            if len(distinct) < 5 and f"{code}: {message}" not in distinct:
                distinct.append(f"{code}: {message}")
            try:
                conn.rollback()
            except sqlite3.Error:
                pass
        attempts.append((time.perf_counter() - began) * 1000)
        if stopped.wait(pause_s):
            break
    elapsed_ms = (time.perf_counter() - started) * 1000
    conn.close()
    emit({
        "event": "result",
        "kind": "python-writer",
        "pid": os.getpid(),
        "writer": writer,
        "transactions": transactions,
        "rowsCommitted": rows_committed,
        "errors": errors,
        "errorCodes": codes,
        "errorsByMessage": by_message,
        "errorMessages": ordered,
        "messages": distinct,
        "elapsedMs": elapsed_ms,
        "latency": summarize(latencies),
        "attemptLatency": summarize(attempts),
    })


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Leave at once: the stdin thread may still be blocked in its read.
    os._exit(0)
