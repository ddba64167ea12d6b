"""Settle the lock / rewrite / scan of real_world.json entries on the real servers.

Not a pytest test: it needs the local servers (PostgreSQL at 127.0.0.1:5432 as postgres,
MariaDB at 127.0.0.1:3306 as root) and writes nothing but scratch databases named
``corpus_settle_*``, which it drops again. For each entry it builds the entry's ``schema``
(the CREATE TABLE statements before the change) in a scratch database, fills every table
with a few generated rows, applies the entry's ``context`` and then measures the ``sql``:

- PostgreSQL: ``BEGIN; <sql>;`` then the strongest mode this backend holds on the table in
  ``pg_locks``, ``pg_class.relfilenode`` before/after (rewrite) and
  ``pg_stat_xact_user_tables.seq_scan`` (scan); ``ROLLBACK``. ``CONCURRENTLY`` statements
  run outside a transaction while a third session holds an old snapshot, and the lock is
  read from a second session while the build waits.
- MariaDB: the statement is re-run on a fresh copy with ``ALGORITHM=`` / ``LOCK=`` appended,
  cheapest first (INSTANT/NONE, NOCOPY/NONE, INPLACE/NONE, NOCOPY/SHARED, INPLACE/SHARED,
  COPY/SHARED, then EXCLUSIVE); the first one accepted is what the server needs. INSTANT and
  NOCOPY do not rebuild; INPLACE when NOCOPY is refused rebuilds; COPY copies (rows affected).
  A scan is a rebuild/copy or an index build.
- SQLite (python's sqlite3): the statement runs on a 0-row and a 300-row copy; the VM
  instructions it executes (progress handler) growing with the rows is a scan, and the
  table's b-tree pages (dbstat) changing on disk is a rewrite. The lock is the database
  write lock (``EXCLUSIVE``) for every change.

    .venv/bin/python tests/corpus/settle.py [--write] [--all] [ID ...]

An entry's optional ``settle_setup`` (SQL) runs after the fill, before ``context``: data the
statement needs to succeed on the generated rows (e.g. valid JSON text before a cast to jsonb).

Without IDs it settles the entries that have no ``settled`` field (``--all``: every entry
that has a ``schema`` or is not PostgreSQL-only legacy). ``--write`` stores the result in
each entry's ``settled`` field: ``{"lock", "rewrites_table", "scans_table", "evidence"}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pymysql

CORPUS = Path(__file__).parent / "real_world.json"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/"
RANK = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
        "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]
NAME = {"AccessShareLock": "ACCESS SHARE", "RowShareLock": "ROW SHARE",
        "RowExclusiveLock": "ROW EXCLUSIVE", "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
        "ShareLock": "SHARE", "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
        "ExclusiveLock": "EXCLUSIVE", "AccessExclusiveLock": "ACCESS EXCLUSIVE"}
ROWS = 3


def _check_in(ddl: str) -> dict[str, str]:
    """First allowed value of each ``CHECK (col IN ('a', ...))`` in the DDL (so fills pass it)."""
    out = {}
    for m in re.finditer(r"\(*[`\"]?(\w+)[`\"]?\)?(?:::\w+)?\s+IN\s*\(\s*('(?:[^']|'')*')", ddl, re.I):
        out.setdefault(m.group(1).lower(), m.group(2))
    for m in re.finditer(r"\(*[`\"]?(\w+)[`\"]?\)?(?:::\w+)?\s*=\s*ANY\s*\(\s*\(?ARRAY\[\s*('(?:[^']|'')*')", ddl, re.I):
        out.setdefault(m.group(1).lower(), m.group(2))
    for m in re.finditer(r"json_valid\(`?(\w+)`?\)", ddl, re.I):
        out.setdefault(m.group(1).lower(), "'[]'")
    return out


# ---------------------------------------------------------------- PostgreSQL
def _pg_value(udt: str, maxlen: int | None, i: int, typoid: int) -> str:
    if udt in ("int2", "int4", "int8", "numeric", "float4", "float8", "oid", "money"):
        return str(i)
    if udt in ("text", "varchar", "bpchar", "citext", "name"):
        v = f"v{i}"
        return "'" + (v[-maxlen:] if maxlen else v) + "'"
    if udt == "bool":
        return "true"
    if udt in ("timestamp", "timestamptz", "date", "time", "timetz"):
        return "now()"
    if udt == "interval":
        return "'1 day'"
    if udt == "uuid":
        return f"md5('{i}')::uuid"
    if udt in ("json", "jsonb"):
        return "'{}'"
    if udt == "bytea":
        return "'\\x00'"
    if udt in ("inet", "cidr"):
        return f"'10.0.0.{i}'"
    if udt.startswith("_"):
        return "'{}'"
    return f"(SELECT enumlabel FROM pg_enum WHERE enumtypid = {typoid} ORDER BY enumsortorder LIMIT 1)::{udt}"


def _pg_fill(conn: psycopg.Connection) -> None:
    tables = [r[0] for r in conn.execute(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r','p')")]
    conn.execute("SET session_replication_role = replica")
    for t in tables:
        cols = conn.execute(
            "SELECT a.attname, t.typname, CASE WHEN a.atttypmod > 4 AND t.typname IN "
            "('varchar','bpchar') THEN a.atttypmod - 4 END, a.atttypid, "
            "pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "AND a.attgenerated = '' AND a.attidentity = '' ORDER BY a.attnum", (f'"{t}"',)).fetchall()
        checks = _check_in(" ".join(r[0] for r in conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'c'", (f'"{t}"',))))
        for i in range(1, ROWS + 1):
            names, vals = [], []
            for name, udt, maxlen, typoid, default in cols:
                if default and "nextval" in default:
                    continue
                names.append(f'"{name}"')
                vals.append(checks.get(name.lower()) or _pg_value(udt, maxlen, i, typoid))
            try:
                conn.execute(f'INSERT INTO "{t}" ({", ".join(names)}) VALUES ({", ".join(vals)})')
            except psycopg.Error as exc:
                print(f"   (fill {t}: {str(exc).splitlines()[0]})")
    conn.execute("SET session_replication_role = DEFAULT")


def _pg_tables(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute(
        "SELECT relname, relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r','p')").fetchall())


def settle_postgres(entry: dict[str, Any]) -> dict[str, Any]:
    db = f"corpus_settle_{os.getpid()}"
    admin = psycopg.connect(PG_DSN + "postgres", autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {db}")
    admin.execute(f"CREATE DATABASE {db}")
    table = (entry["expect"].get("table") or "").lower()
    try:
        conn = psycopg.connect(PG_DSN + db, autocommit=True)
        if entry.get("schema"):
            conn.execute(entry["schema"])
        _pg_fill(conn)
        if entry.get("settle_setup"):  # data the statement needs to succeed (settling only)
            conn.execute(entry["settle_setup"])
        if entry.get("context"):
            conn.execute(entry["context"])
        before = _pg_tables(conn)
        sql = entry["sql"]
        if re.search(r"\bCONCURRENTLY\b", sql, re.I):
            return _pg_concurrently(db, conn, sql, table, before)
        oid = None
        if table:
            oid = conn.execute("SELECT coalesce(to_regclass(%s), to_regclass(%s))::oid",
                               (f'"{table}"', table)).fetchone()[0]
        conn.execute("BEGIN")
        q = "SELECT coalesce(sum(seq_scan),0) FROM pg_stat_xact_user_tables WHERE relid = %s"
        scans0 = conn.execute(q, (oid,)).fetchone()[0]  # pending counts of earlier transactions
        conn.execute(sql)
        pid = conn.info.backend_pid
        modes = [r[0] for r in conn.execute(
            "SELECT mode FROM pg_locks WHERE pid = %s AND relation = %s", (pid, oid))] if oid else []
        after = _pg_tables(conn)
        if table not in after and oid:  # renamed: follow the oid
            new = conn.execute("SELECT relname FROM pg_class WHERE oid = %s", (oid,)).fetchone()
            if new:
                after[table] = after.get(new[0])
        scans = conn.execute(q, (oid,)).fetchone()[0] - scans0
        conn.execute("ROLLBACK")
        lock = NAME[max(modes, key=RANK.index)] if modes else "none"
        rewrite = table in before and table in after and before[table] != after[table]
        return {"lock": lock, "rewrites_table": rewrite, "scans_table": bool(scans),
                "evidence": f"PostgreSQL 15.20, BEGIN; stmt; pg_locks on {table}: "
                            f"{sorted(set(modes)) or 'none'}; relfilenode "
                            f"{before.get(table)}->{after.get(table)}; xact seq_scan={scans}; ROLLBACK"}
    finally:
        with contextlib.suppress(Exception):
            conn.close()
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()


def _pg_concurrently(db, conn, sql, table, before):
    holder = psycopg.connect(PG_DSN + db)
    holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT count(*) FROM pg_class")
    worker = psycopg.connect(PG_DSN + db, autocommit=True)
    pid = worker.info.backend_pid
    err: list[str] = []

    def run() -> None:
        try:
            worker.execute(sql)
        except psycopg.Error as exc:
            err.append(str(exc))

    th = threading.Thread(target=run)
    th.start()
    modes: set[str] = set()
    for _ in range(30):
        time.sleep(0.1)
        modes |= {r[0] for r in conn.execute(
            "SELECT mode FROM pg_locks WHERE pid = %s AND relation = to_regclass(%s)", (pid, table))}
    holder.execute("COMMIT")
    th.join(20)
    holder.close()
    worker.close()
    after = _pg_tables(conn)
    lock = NAME[max(modes, key=RANK.index)] if modes else "none"
    return {"lock": lock, "rewrites_table": before.get(table) != after.get(table),
            "scans_table": True,
            "evidence": f"PostgreSQL 15.20, outside a transaction while another session held "
                        f"an old snapshot: pg_locks seen from a second session {sorted(modes)}; "
                        f"relfilenode {before.get(table)}->{after.get(table)}"
                        + (f"; error {err[0]}" if err else "; completed after the snapshot ended")
                        + "; an index build reads every row"}


# ---------------------------------------------------------------- MariaDB
LADDER = [("INSTANT", "NONE"), ("NOCOPY", "NONE"), ("INPLACE", "NONE"), ("NOCOPY", "SHARED"),
          ("INPLACE", "SHARED"), ("COPY", "SHARED"), ("INSTANT", "EXCLUSIVE"),
          ("NOCOPY", "EXCLUSIVE"), ("INPLACE", "EXCLUSIVE"), ("COPY", "EXCLUSIVE")]


def _my_connect(db: str | None = None):
    return pymysql.connect(host="127.0.0.1", user="root", database=db, autocommit=True,
                           client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)


def _my_exec_many(cur, sql: str) -> None:
    cur.execute(sql)
    while cur.nextset():
        pass


def _my_value(dtype: str, coltype: str, maxlen, i: int) -> str:
    if dtype in ("tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float",
                 "double", "year"):
        return str(i)
    if dtype in ("char", "varchar", "text", "tinytext", "mediumtext", "longtext"):
        v = f"v{i}"
        return "'" + (v[-int(maxlen):] if maxlen else v) + "'"
    if dtype in ("binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"):
        return f"'{i}'"
    if dtype in ("date", "datetime", "timestamp", "time"):
        return "NOW()"
    if dtype == "enum":
        return re.search(r"'((?:[^']|'')*)'", coltype).group(0)
    if dtype == "set":
        return "''"
    if dtype == "bit":
        return "b'1'"
    if dtype in ("json", "longtext"):
        return "'{}'"
    return "NULL"


def _my_build(entry: dict[str, Any], db: str) -> Any:
    c = _my_connect()
    cur = c.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"USE {db}")
    cur.execute("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'")
    if entry.get("schema"):
        _my_exec_many(cur, entry["schema"])
    cur.execute("SET foreign_key_checks = 0")
    cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                "AND TABLE_TYPE = 'BASE TABLE'", (db,))
    for (t,) in cur.fetchall():
        cur.execute("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, EXTRA "
                    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
                    "ORDER BY ORDINAL_POSITION", (db, t))
        cols = [r for r in cur.fetchall() if "auto_increment" not in r[4] and "GENERATED" not in r[4].upper()]
        cur.execute(f"SHOW CREATE TABLE `{t}`")
        checks = _check_in(cur.fetchone()[1])
        for i in range(1, ROWS + 1):
            names = ", ".join(f"`{r[0]}`" for r in cols)
            vals = ", ".join(checks.get(r[0].lower()) or _my_value(r[1], r[2], r[3], i) for r in cols)
            try:
                cur.execute(f"INSERT INTO `{t}` ({names}) VALUES ({vals})")
            except pymysql.Error as exc:
                print(f"   (fill {t}: {exc})")
    cur.execute("SET foreign_key_checks = 1")
    if entry.get("settle_setup"):  # data the statement needs to succeed (settling only)
        _my_exec_many(cur, entry["settle_setup"])
    if entry.get("context"):
        _my_exec_many(cur, entry["context"])
    return c, cur


def _with_clause(sql: str, algo: str, lock: str) -> str | None:
    s = sql.rstrip().rstrip(";")
    m = re.match(r"\s*RENAME\s+TABLE\s+(\S+)\s+TO\s+(\S+)\s*$", s, re.I)
    if m:  # RENAME TABLE takes no clause; ALTER TABLE ... RENAME TO is the same change
        if algo == "COPY":
            return None  # forcing a copy would make it one; the plain RENAME does not copy
        return f"ALTER TABLE {m.group(1)} RENAME TO {m.group(2)}, ALGORITHM={algo}, LOCK={lock}"
    if re.match(r"\s*ALTER\s+(ONLINE\s+|IGNORE\s+)?TABLE\b", s, re.I):
        return f"{s}, ALGORITHM={algo}, LOCK={lock}"
    m = re.match(r"\s*DROP\s+INDEX\s+(IF\s+EXISTS\s+)?(\S+)\s+ON\s+(\S+)\s*$", s, re.I)
    if m:  # MariaDB's DROP INDEX takes no ALGORITHM/LOCK clause: the same change as an ALTER
        return f"ALTER TABLE {m.group(3)} DROP INDEX {m.group(1) or ''}{m.group(2)}, ALGORITHM={algo}, LOCK={lock}"
    if re.match(r"\s*CREATE\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\b", s, re.I):
        return f"{s} ALGORITHM={algo} LOCK={lock}"
    return None


CLAUSE = re.compile(r"\s*,?\s*\b(ALGORITHM|LOCK)\s*=?\s*(\w+)\s*$", re.I)
RANKLOCK = ["none", "shared", "exclusive"]


def settle_mysql(entry: dict[str, Any]) -> dict[str, Any]:
    """Settle without the statement's own ALGORITHM/LOCK clauses, then add back what they force."""
    sql = entry["sql"].rstrip().rstrip(";")
    explicit = {}
    while (m := CLAUSE.search(sql)):
        explicit[m.group(1).upper()] = m.group(2).upper()
        sql = sql[:m.start()]
    res = _settle_mysql(dict(entry, sql=sql))
    if explicit:
        c, cur = _my_build(entry, f"corpus_settle_{os.getpid()}")
        try:
            cur.execute(entry["sql"])
            ok = "accepted"
        except pymysql.Error as exc:
            ok = f"refused ({exc})"
        finally:
            cur.execute(f"DROP DATABASE IF EXISTS corpus_settle_{os.getpid()}")
            c.close()
        forced = {"NONE": "none", "SHARED": "shared", "EXCLUSIVE": "exclusive"}.get(explicit.get("LOCK", ""))
        if forced and res["lock"] and RANKLOCK.index(forced) > RANKLOCK.index(res["lock"]):
            res["lock"] = forced
        res["evidence"] = (f"without the statement's own {explicit}: " + res["evidence"]
                           + f"; as written ({explicit}): {ok}")
    return res


def _settle_mysql(entry: dict[str, Any]) -> dict[str, Any]:
    db = f"corpus_settle_{os.getpid()}"
    sql = entry["sql"]
    tried: list[str] = []
    try:
        if _with_clause(sql, "INSTANT", "NONE") is None:
            c, cur = _my_build(entry, db)
            n = cur.execute(sql)
            return {"lock": None, "rewrites_table": None, "scans_table": None,
                    "evidence": f"MariaDB 10.11.19: ran as written ({n} rows affected); "
                                "no ALGORITHM/LOCK clause applies"}
        for algo, lock in LADDER:
            if _with_clause(sql, algo, lock) is None:
                continue
            c, cur = _my_build(entry, db)
            try:
                n = cur.execute(_with_clause(sql, algo, lock))
            except pymysql.Error as exc:
                tried.append(f"{algo}/{lock} refused")
                last = str(exc)
                c.close()
                continue
            c.close()
            index_build = bool(re.search(
                r"\bADD\s+(CONSTRAINT\s+\S+\s+)?(UNIQUE|INDEX|KEY|FULLTEXT|SPATIAL|PRIMARY)\b|\bCREATE\s+(UNIQUE\s+|FULLTEXT\s+)?INDEX\b",
                sql, re.I))
            rewrite = algo in ("INPLACE", "COPY")
            return {"lock": {"NONE": "none", "SHARED": "shared", "EXCLUSIVE": "exclusive"}[lock],
                    "rewrites_table": rewrite, "scans_table": rewrite or index_build,
                    "evidence": "MariaDB 10.11.19: " + ", ".join([*tried, f"{algo}/{lock} accepted"])
                                + f" ({n} rows affected)"}
        if re.match(r"\s*RENAME\s+TABLE\b", sql, re.I):
            c, cur = _my_build(entry, db)
            tid = "SELECT TABLE_ID FROM information_schema.INNODB_SYS_TABLES WHERE NAME LIKE %s"
            old = re.match(r"\s*RENAME\s+TABLE\s+`?(\w+)`?\s+TO\s+`?(\w+)`?", sql, re.I)
            cur.execute(tid, (f"{db}/{old.group(1)}",))
            before = cur.fetchone()
            n = cur.execute(sql)
            cur.execute(tid, (f"{db}/{old.group(2)}",))
            after = cur.fetchone()
            return {"lock": "exclusive", "rewrites_table": before != after, "scans_table": before != after,
                    "evidence": "MariaDB 10.11.19: as ALTER TABLE ... RENAME TO: " + ", ".join(tried)
                                + f" (every non-COPY algorithm refused with LOCK=NONE/SHARED/EXCLUSIVE short of the "
                                  f"rename's own exclusive lock); RENAME TABLE as written: InnoDB table id "
                                  f"{before and before[0]} -> {after and after[0]}"}
        return {"lock": None, "rewrites_table": None, "scans_table": None,
                "evidence": "MariaDB 10.11.19: every ALGORITHM/LOCK refused; last error " + last}
    finally:
        c = _my_connect()
        c.cursor().execute(f"DROP DATABASE IF EXISTS {db}")
        c.close()


# ---------------------------------------------------------------- SQLite
def _sq_value(decl: str, i: int) -> str:
    d = decl.upper()
    if "INT" in d or "BOOL" in d:
        return str(i)
    if "CHAR" in d or "TEXT" in d or "CLOB" in d:
        return f"'v{i}'"
    if "BLOB" in d:
        return f"x'0{i}'"
    if "REAL" in d or "FLOA" in d or "DOUB" in d or "NUM" in d or "DEC" in d:
        return f"{i}.5"
    return str(i)


def _sq_build(entry: dict[str, Any], path: str, rows: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    if entry.get("schema"):
        conn.executescript(entry["schema"])
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    conn.execute("BEGIN")
    for t in tables:
        cols = [r for r in conn.execute(f'PRAGMA table_xinfo("{t}")') if r[6] == 0]
        checks = _check_in(conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (t,)).fetchone()[0])
        for i in range(1, rows + 1):
            names = ", ".join(f'"{r[1]}"' for r in cols)
            vals = ", ".join(checks.get(r[1].lower()) or _sq_value(r[2], i) for r in cols)
            try:
                conn.execute(f'INSERT INTO "{t}" ({names}) VALUES ({vals})')
            except sqlite3.Error as exc:
                if i == 1:
                    print(f"   (fill {t}: {exc})")
    conn.execute("COMMIT")
    if entry.get("settle_setup"):  # data the statement needs to succeed (settling only)
        conn.executescript(entry["settle_setup"])
    if entry.get("context"):
        conn.executescript(entry["context"])
    return conn


def _sq_pages(conn: sqlite3.Connection, path: str, table: str, root: int | None = None) -> dict[int, bytes]:
    if root is not None:  # follow the table through a rename by its root page
        row = conn.execute("SELECT name FROM sqlite_schema WHERE rootpage = ?", (root,)).fetchone()
        table = row[0] if row else table
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = Path(path).read_bytes()
    return {p: data[(p - 1) * size:p * size] for p in pages}


def settle_sqlite(entry: dict[str, Any]) -> dict[str, Any]:
    table = entry["expect"].get("table") or ""
    ops = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (0, 300):
            path = f"{tmp}/db{rows}.sqlite"
            conn = _sq_build(entry, path, rows)
            pages = _sq_pages(conn, path, table) if table else {}
            row = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ? COLLATE NOCASE", (table,)).fetchone()
            root = row[0] if row else None
            count = [0]

            def tick(count: list[int] = count) -> int:
                count[0] += 1
                return 0

            conn.set_progress_handler(tick, 1)
            try:
                conn.executescript(entry["sql"].rstrip().rstrip(";") + ";")
            except sqlite3.Error as exc:
                return {"lock": None, "rewrites_table": None, "scans_table": None,
                        "evidence": f"SQLite {sqlite3.sqlite_version}: refused: {exc}"}
            conn.set_progress_handler(None, 0)
            ops[rows] = count[0]
            after = _sq_pages(conn, path, table, root) if table else {}
            if rows:
                changed = sum(1 for p, b in pages.items() if after.get(p) != b)
                rewrite = bool(pages) and changed > 0 and set(pages) != set()
            conn.close()
    scan = ops[300] - ops[0] > 300
    return {"lock": "EXCLUSIVE", "rewrites_table": rewrite, "scans_table": scan,
            "evidence": f"SQLite {sqlite3.sqlite_version}: accepted natively; VM steps with 0 vs "
                        f"300 rows {ops[0]} vs {ops[300]}; {changed} of {len(pages)} table pages "
                        f"changed on disk"}


def main(argv: list[str]) -> int:
    write = "--write" in argv
    new = "--new" in argv
    ids = [a for a in argv if not a.startswith("--")]
    corpus = json.loads(CORPUS.read_text())
    bad = 0
    for entry in corpus:
        if ids and entry["id"] not in ids:
            continue
        if not ids and (("settled" in entry) == new):
            continue
        fn = {"postgres": settle_postgres, "mysql": settle_mysql, "sqlite": settle_sqlite}[entry["dialect"]]
        try:
            res = fn(entry)
        except Exception as exc:  # report and go on
            print(f"!! {entry['id']}: {type(exc).__name__}: {exc}")
            bad += 1
            continue
        exp = entry["expect"]
        diff = {k: (exp.get(k), res[k]) for k in ("lock", "rewrites_table", "scans_table")
                if res[k] is not None and exp.get(k) != res[k]}
        print(f"{'OK' if not diff else 'DIFF'} {entry['id']}: {res['lock']}/{res['rewrites_table']}"
              f"/{res['scans_table']}  {diff if diff else ''}\n   {res['evidence']}")
        if write:
            entry["settled"] = res["evidence"]
    if write:
        CORPUS.write_text(json.dumps(corpus, indent=2, ensure_ascii=False))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
