"""A tiny app for the blue-green demo: reports itself to schemashift's deployment registry
and reads/writes ``users`` in a loop.

    python examples/app/app.py --database-url URL --version 1.0.0 --seconds 20 --slot blue

It first calls ``runtime.check``: on a schema contracted for a newer version it exits 3
at once with the SchemaTooNew message, before reporting itself.

Version 1.x uses ``users.name``; 2.x uses ``users.full_name`` (the rename of
examples/sql/004_rename_user_name.sql). It stops after ``--seconds`` or on SIGTERM and
prints its counts as JSON: requests ok, failed, and the ids and names it wrote.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time

from sqlalchemy import create_engine, text

from schemashift import runtime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--app", default="api")
    parser.add_argument("--instance", default=None)
    parser.add_argument("--slot", default=None)
    parser.add_argument("--traffic", type=float, default=None, help="percent of requests")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--interval", type=float, default=1.0, help="heartbeat, seconds")
    args = parser.parse_args()

    column = "full_name" if int(args.version.split(".")[0]) >= 2 else "name"
    engine = create_engine(args.database_url, pool_pre_ping=True)
    try:
        # First of all: does the schema still support this version? (docs/design.md §4)
        runtime.check(engine, args.app, args.version)
    except runtime.SchemaTooNew as exc:
        print(f"SchemaTooNew: {exc}", file=sys.stderr, flush=True)
        engine.dispose()
        return 3
    except runtime.StateError as exc:  # no state tables yet, no grants, a lock: one line
        print(f"schemashift: {exc}", file=sys.stderr, flush=True)
        engine.dispose()
        return 4
    handle = runtime.report(engine, args.app, args.version, args.instance, args.interval,
                            slot=args.slot, traffic=args.traffic)  # fmt: skip
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    ok = failed = 0
    written: dict[int, str] = {}
    errors: list[str] = []
    deadline = time.monotonic() + args.seconds
    print(json.dumps({"started": args.version}), flush=True)
    n = 0
    while not stopping and time.monotonic() < deadline:
        n += 1
        try:
            with engine.begin() as conn:
                value = f"{args.version} user {n}"
                new_id = conn.execute(
                    text(f"INSERT INTO users ({column}) VALUES (:v) RETURNING id"), {"v": value}
                ).scalar_one()
                written[int(new_id)] = value
                pick = random.choice(list(written))
                got = conn.execute(text(f"SELECT {column} FROM users WHERE id = :i"),
                                   {"i": pick}).scalar_one()  # fmt: skip
                if got != written[pick]:
                    raise AssertionError(f"row {pick}: read {got!r}, wrote {written[pick]!r}")
                if n % 3 == 0:
                    renamed = f"{value} (renamed)"
                    conn.execute(text(f"UPDATE users SET {column} = :v WHERE id = :i"),
                                 {"v": renamed, "i": pick})  # fmt: skip
                    written[pick] = renamed
            ok += 1
        except Exception as exc:
            failed += 1
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        time.sleep(0.02)
    handle.stop()
    engine.dispose()
    print(json.dumps({"version": args.version, "ok": ok, "failed": failed,
                      "errors": errors[:5], "written": written}), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
