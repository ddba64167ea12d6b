"""The identifier matrix: awkward table and column names x every strategy x both servers.

For each (name, strategy) case, on a real server and through
``schemashift.execute.runner.Runner``:

1. create the target table and one or more *decoys* (tables the target could be confused
   with: ``a.b`` for ``"a.b"``, ``useraccounts`` for ``"UserAccounts"``, ``t`` for
   ``"t{pk:x}"`` …) with the same columns and rows; snapshot every table (columns, indexes,
   constraints, triggers, rows) and the functions;
2. plan the migration - or see it refused before expand (``PlanError``, or the expand
   raising before it changed anything) with a message naming the problem, and nothing
   changed;
3. expand (no table but the target changed), roll back (the whole snapshot is back),
   expand again, backfill, verify, contract;
4. the target is in the new schema with every value intact; every other table, the decoys
   first, is exactly as snapshotted; no schemashift trigger, function or shadow column is
   left (PostgreSQL: no ``pg_trigger`` row, no function named ``schemashift%``; MariaDB:
   no ``TRIGGERS`` row).

Names are written in the migrations exactly as an engineer would write them, and the
setup creates the tables with the same spelling: PostgreSQL truncates names longer than
63 bytes in the setup as in the migration, so the migration must work on the truncated
table, as plain SQL would. MariaDB refuses names over 64 characters: a migration naming
one must be refused before expand.

Speed: a fresh database per test (conftest's ``postgres_url``) costs about half a second to
create and drop; with some 250 cases this module instead creates one database per xdist
worker (PostgreSQL) / one pair of databases (MariaDB: the test database and a second one
for cross-database names) and resets it before every case (every schema dropped /
databases recreated), so each case still starts from nothing.

It found nine engine bugs when it was written (names quoted twice, a serial sequence looked
up by a quoted column, ``%`` and braces in names reaching format strings and placeholders,
``%%`` folded to ``%``, a MariaDB backfill split on dots, long names in ``USING``); every
case passes now.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import pytest
from sqlalchemy.engine import URL

from schemashift.config import Config
from schemashift.model import Phase
from schemashift.phases.planner import PlanError, plan_sql

runner_module = pytest.importorskip("schemashift.execute.runner")
Runner = runner_module.Runner
RunOptions = runner_module.RunOptions

PG_STATE_SCHEMA = Config().state_schema
ROWS = [(1, "v1", "n1"), (2, "v2", None), (3, "v3", "n3")]
Snapshot = dict[tuple[str, str], dict[str, Any]]
GLOBAL = ""  # the schema part of snapshot keys that are not tables (functions, schemas)


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class Name:
    """One awkward name, every part spelled as SQL (quoted as the migration writes it)."""

    id: str
    t: str  # the target table (may be qualified)
    c: str  # the awkward column
    c2: str  # a second column name: RENAME … TO / ADD COLUMN
    k: str  # a constraint / index name
    decoys: tuple[tuple[str, str], ...]  # (table, its counterpart of c), all as SQL
    t2: str = ""  # RENAME TO (PostgreSQL: unqualified)
    t2_full: str = ""  # the renamed table, qualified as SQL
    prelude: tuple[str, ...] = ()
    create_target: bool = True  # False: the server would refuse the name itself
    # strategy id → regex the refusal must match (the combination is refused before expand);
    # "*" for every strategy.
    refuse: tuple[tuple[str, str], ...] = ()
    shapes: tuple[str, ...] = ()  # only these strategies (default: every one)

    def refusal(self, strategy: str) -> str | None:
        for key, pattern in self.refuse:
            if key in ("*", strategy):
                return pattern
        return None

    def with_other_db(self, other: str) -> Name:
        """``<X>`` (the second MariaDB database, named per run) substituted everywhere."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                changes[f.name] = value.replace("<X>", other)
            elif f.name == "decoys":
                changes[f.name] = tuple(
                    (d.replace("<X>", other), c.replace("<X>", other)) for d, c in value
                )
        return replace(self, **changes)


_IDENT = re.compile(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^."`\s]+)')


def parts(sql: str, dialect: str) -> list[str]:
    """The parts of a (qualified) SQL name as the server stores them: PostgreSQL folds
    bare names to lower case and truncates every part to 63 bytes."""
    out, at = [], 0
    while True:
        m = _IDENT.match(sql, at)
        assert m is not None, f"bad test name {sql!r}"
        if m.group(1) is not None:
            part = m.group(1).replace('""', '"')
        elif m.group(2) is not None:
            part = m.group(2).replace("``", "`")
        else:
            part = m.group(3) if dialect == "mysql" else m.group(3).lower()
        if dialect == "postgres":
            part = part.encode()[:63].decode(errors="ignore")
        out.append(part)
        at = m.end()
        if at == len(sql):
            return out
        assert sql[at] == ".", f"bad test name {sql!r}"
        at += 1


def ident(sql: str, dialect: str) -> str:
    (one,) = parts(sql, dialect)
    return one


def table_key(sql: str, dialect: str, default_schema: str) -> tuple[str, str]:
    p = parts(sql, dialect)
    return (p[0], p[1]) if len(p) == 2 else (default_schema, p[0])


def qi(name: str, dialect: str) -> str:
    """Quote one catalog name for the test's own SQL."""
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def long_name(prefix: str, fill: str, length: int = 70) -> str:
    return prefix + fill * (length - len(prefix))


# PostgreSQL -----------------------------------------------------------------

_PG_LONG = {k: long_name(f"{k}_", ch) for k, ch in
            (("tbl", "x"), ("col", "y"), ("new", "z"), ("ren", "r"), ("key", "k"), ("dec", "w"))}  # fmt: skip

# fmt: off
PG_NAMES = [
    Name(
        "dotted",  # public."a.b", with a.b beside it
        t='"a.b"', c='"c.d"', c2='"e.f"', k='"a.b_k"', t2='"a.b2"', t2_full='"a.b2"',
        decoys=(("a.b", '"c.d"'),), prelude=("CREATE SCHEMA a",),
    ),
    Name(
        "schema_dotted",  # a.b, with public."a.b" beside it
        t="a.b", c='"c.d"', c2='"e.f"', k='"a.b_k"', t2="b2", t2_full="a.b2",
        decoys=(('"a.b"', '"c.d"'), ("b", '"c.d"')), prelude=("CREATE SCHEMA a",),
    ),
    Name(
        "mixed_case",
        t='"UserAccounts"', c='"FullName"', c2='"DisplayName"', k='"UserAccounts_Key"',
        t2='"Members"', t2_full='"Members"', decoys=(("useraccounts", "fullname"),),
    ),
    Name(
        "schema_mixed_case",  # "App"."Users", with app.users and public."Users" beside it
        t='"App"."Users"', c='"FullName"', c2='"DisplayName"', k='"Users_Key"',
        t2='"Members"', t2_full='"App"."Members"',
        decoys=(("app.users", "fullname"), ('"Users"', '"FullName"')),
        prelude=('CREATE SCHEMA "App"', "CREATE SCHEMA app"),
    ),
    Name(
        "spaces",
        t='"order lines"', c='"unit price"', c2='"net price"', k='"order lines key"',
        t2='"order items"', t2_full='"order items"', decoys=(('"order"', '"unit price"'),),
    ),
    Name(
        "semicolon",
        t='"t;x"', c='"c;--x"', c2='"n;--y"', k='"k;--z"', t2='"t;y"', t2_full='"t;y"',
        decoys=(("t", '"c;--x"'),),
    ),
    Name(
        "percent",
        t='"pct%s"', c='"c%(x)s"', c2='"n%d"', k='"k%s"', t2='"pct%d"', t2_full='"pct%d"',
        decoys=(("pct", '"c%(x)s"'),),
    ),
    Name(
        "double_percent",  # %% is two percent signs in a .sql file, not an escaped one
        t='"pp%%"', c='"c%%"', c2='"n%%"', k='"k%%"', t2='"pq%%"', t2_full='"pq%%"',
        decoys=(('"pp%"', '"c%%"'),),
        shapes=("rename_column", "rename_table", "add_not_null_column", "create_index"),
    ),
    Name(
        "braces",  # names that look like run-time references
        t='"t{pk:x}"', c='"c{type:t.c}"', c2='"n{coldef:t.c}"', k='"k{0}"',
        t2='"t{pk:y}"', t2_full='"t{pk:y}"', decoys=(("t", "c"), ("x", "c")),
    ),
    Name(
        "dollar_quote",  # the dollar quote the generated PL/pgSQL uses
        t='"d$schemashift$t"', c='"c$schemashift$"', c2='"n$schemashift$"',
        k='"k$schemashift$"', t2='"e$schemashift$t"', t2_full='"e$schemashift$t"',
        decoys=(("d", '"c$schemashift$"'),),
    ),
    Name(
        "quotes",  # ' and " (and a backslash) inside names: string literals, regclass
        t='"o\'ne""il"', c='"it\'s\\x"', c2='"that""s"', k='"k\'""k"',
        t2='"o\'ne""il2"', t2_full='"o\'ne""il2"', decoys=(("o", '"it\'s\\x"'),),
    ),
    Name(
        "long",  # > 63 bytes: PostgreSQL truncates, in the setup and in the migration alike
        t=_PG_LONG["tbl"], c=_PG_LONG["col"], c2=_PG_LONG["new"], k=_PG_LONG["key"],
        t2=_PG_LONG["ren"], t2_full=_PG_LONG["ren"], decoys=((_PG_LONG["dec"], _PG_LONG["col"]),),
    ),
    Name(
        "long_multibyte",  # 80 bytes of 2-byte characters: truncated on a character boundary
        t='"' + "ü" * 40 + '"', c='"' + "é" * 40 + '"', c2='"' + "ñ" * 40 + '"',
        k='"' + "ß" * 40 + '"', t2='"' + "ö" * 40 + '"', t2_full='"' + "ö" * 40 + '"',
        decoys=(('"' + "ä" * 40 + '"', '"' + "é" * 40 + '"'),),
    ),
    Name(
        "multibyte",
        t='"naïve_ü"', c='"größe"', c2='"maße"', k='"schlüssel"', t2='"naïve_ö"',
        t2_full='"naïve_ö"', decoys=(("naive_u", '"größe"'),),
    ),
]
# fmt: on

# MariaDB --------------------------------------------------------------------
# <X> is the second database (created per run: a fixed name would collide between
# workers and with other test runs on the same server).

_MY_LONG = long_name("tbl_", "x")
# schemashift's own refusal, at plan time, naming the identifier.
_MY_LONG_REFUSAL = r"'\w+'… is 70 characters long; MySQL/MariaDB allow 64"

# fmt: off
MY_NAMES = [
    Name(
        "dotted",  # `<X>.b` in the test database, with `<X>`.`b` (another database) beside it
        t="`<X>.b`", c="`c.d`", c2="`e.f`", k="`k.l`",
        decoys=(("`<X>`.`b`", "`c.d`"), ("`b`", "`c.d`")),
    ),
    Name(
        "other_db",  # a table in another database; same-named tables in the test database
        t="`<X>`.`b`", c="name", c2="full_name", k="b_name_idx",
        decoys=(("`b`", "name"), ("`<X>.b`", "name")),
    ),
    Name(
        "mixed_case",
        t="`UserAccounts`", c="`FullName`", c2="`DisplayName`", k="`UserAccounts_Key`",
        decoys=(("`useraccounts`", "`fullname`"),),
    ),
    Name(
        "percent",
        t="`pct%s`", c="`c%s`", c2="`n%d`", k="`k%s`", decoys=(("pct", "`c%s`"),),
    ),
    Name(
        "double_percent",
        t="`pp%%`", c="`c%%`", c2="`n%%`", k="`k%%`", decoys=(("`pp%`", "`c%%`"),),
        shapes=("rename_column", "add_not_null_column", "create_index"),
    ),
    Name(
        "braces",
        t="`t{pk:x}`", c="`c{type:t.c}`", c2="`n{coldef:t.c}`", k="`k{0}`",
        decoys=(("t", "c"), ("x", "c")),
    ),
    Name(
        "spaces",
        t="`order lines`", c="`unit price`", c2="`net price`", k="`order lines key`",
        decoys=(("`order`", "`unit price`"),),
    ),
    Name(
        "quotes",  # ' \ and ` inside names: string literals in the generated dynamic SQL
        t="`o'ne\\il`", c="`it's`", c2="`that``s`", k="`k'\\k`",
        decoys=(("o", "`it's`"),),
    ),
    Name(
        "long_table",  # > 64 characters: MariaDB would refuse it; so must schemashift
        t=f"`{_MY_LONG}`", c="name", c2="full_name", k="t_name_idx",
        decoys=(("`tbl_sibling`", "name"),), create_target=False,
        refuse=(("*", _MY_LONG_REFUSAL),),
    ),
    Name(
        "long_column",  # a new column / index name over 64 characters
        t="lc", c="name", c2=f"`{long_name('new_', 'z')}`", k=f"`{long_name('key_', 'k')}`",
        decoys=(("lc_sibling", "name"),),
        refuse=(("rename_column", _MY_LONG_REFUSAL), ("rename_column_change", _MY_LONG_REFUSAL),
                ("add_not_null_column", _MY_LONG_REFUSAL), ("create_index", _MY_LONG_REFUSAL)),
    ),
]
# fmt: on


# --------------------------------------------------------------------------- databases


class Db:
    """An autocommit connection to the case's database. ``run`` sends SQL as written (no
    parameters: names hold ``%``); ``rows`` takes parameters (then no names in the text)."""

    def __init__(self, conn: Any, dialect: str, url: str, schema: str, other: str = "") -> None:
        self.conn = conn
        self.dialect = dialect
        self.url = url
        self.schema = schema  # PostgreSQL: public; MariaDB: the test database
        self.other = other  # MariaDB: the second database

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        if self.dialect == "mysql":
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                return [tuple(r) for r in cur.fetchall()]
        cur = self.conn.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def run(self, sql: str) -> None:
        self.rows(sql)

    def one(self, sql: str, params: Any = None) -> Any:
        rows = self.rows(sql, params)
        assert len(rows) == 1, f"expected one row from {sql!r}, got {rows}"
        return rows[0][0] if len(rows[0]) == 1 else rows[0]

    def key(self, table_sql: str) -> tuple[str, str]:
        return table_key(table_sql, self.dialect, self.schema)


def _new_db_name(prefix: str = "ss_test_") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def _pg_kwargs(url: URL, database: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"host": url.host or "127.0.0.1", "port": url.port or 5432,
                              "user": url.username or "postgres", "dbname": database,
                              "autocommit": True}  # fmt: skip
    if url.password is not None:
        kwargs["password"] = str(url.password)
    return kwargs


def _my_kwargs(url: URL) -> dict[str, Any]:
    return {"host": url.host or "127.0.0.1", "port": url.port or 3306,
            "user": url.username or "root",
            "password": "" if url.password is None else str(url.password),
            "charset": "utf8mb4", "autocommit": True}  # fmt: skip


@pytest.fixture(scope="module")
def _pg_module_db(_postgres_server_url: URL) -> Iterator[Db]:
    """One database for this module on this worker, dropped at the end."""
    import psycopg

    name = _new_db_name()
    admin = psycopg.connect(**_pg_kwargs(_postgres_server_url, _postgres_server_url.database
                                         or "postgres"))  # fmt: skip
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        conn = psycopg.connect(**_pg_kwargs(_postgres_server_url, name))
        # Never prepare: a type change would break a statement prepared before it (the
        # documented "cached plan must not change result type" of change_column_type).
        conn.prepare_threshold = None
        try:
            url = _postgres_server_url.set(database=name).render_as_string(hide_password=False)
            yield Db(conn, "postgres", url, "public")
        finally:
            conn.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture
def pg_db(_pg_module_db: Db) -> Db:
    """The module's PostgreSQL database with every schema dropped and an empty public
    schema. schemashift's state schema stays (each case has its own migration id): its
    tables need not be created again for every case."""
    db = _pg_module_db
    for (schema,) in db.rows(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
        "AND nspname NOT IN ('information_schema', %s)",
        (PG_STATE_SCHEMA,),
    ):
        db.run(f"DROP SCHEMA {qi(schema, 'postgres')} CASCADE")
    db.run("CREATE SCHEMA public")
    return db


@pytest.fixture(scope="module")
def _my_module_db(_mysql_server_url: URL) -> Iterator[Db]:
    """The test database and a second one (cross-database names), dropped at the end."""
    import pymysql

    main, other = _new_db_name(), _new_db_name("ss_other_")
    conn = pymysql.connect(**_my_kwargs(_mysql_server_url))
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{main}` CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_unicode_ci")  # fmt: skip
            cur.execute(f"USE `{main}`")
        url = _mysql_server_url.set(database=main).render_as_string(hide_password=False)
        yield Db(conn, "mysql", url, main, other)
    finally:
        with contextlib.suppress(Exception):
            for name in (main, other):
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def my_db(_my_module_db: Db) -> Db:
    """Every table of the test database dropped (schemashift's state tables aside: each
    case has its own migration id) and the second database created again, empty."""
    db = _my_module_db
    for name, kind in db.rows(f"SHOW FULL TABLES FROM {qi(db.schema, 'mysql')}"):
        if not name.startswith("schemashift_"):
            what = "VIEW" if kind == "VIEW" else "TABLE"
            db.run(f"DROP {what} {qi(db.schema, 'mysql')}.{qi(name, 'mysql')}")
    db.run(f"DROP DATABASE IF EXISTS {qi(db.other, 'mysql')}")
    db.run(f"CREATE DATABASE {qi(db.other, 'mysql')} CHARACTER SET utf8mb4 "
           "COLLATE utf8mb4_unicode_ci")  # fmt: skip
    return db


# --------------------------------------------------------------------------- snapshots


def pg_snapshot(db: Db) -> Snapshot:
    """Every relation of every user schema (schemashift's state schema aside): columns,
    constraints, indexes, triggers, rows, view definition, sequence type and owner; plus
    the functions and the schemas."""
    rels = db.rows(
        "SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S') "
        "AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname NOT IN ('information_schema', %s)",
        (PG_STATE_SCHEMA,),
    )
    oids = [r[0] for r in rels]
    key_of = {oid: (schema, name) for oid, schema, name, _ in rels}
    snap: Snapshot = {}
    for oid, schema, name, kind in rels:
        entry: dict[str, Any] = {"kind": kind, "columns": [], "constraints": [], "indexes": [],
                                 "triggers": [], "owner": None}  # fmt: skip
        if kind in ("r", "p", "v", "m"):
            entry["rows"] = [r[0] for r in db.rows(
                f"SELECT to_jsonb(x)::text FROM {qi(schema, 'postgres')}."
                f"{qi(name, 'postgres')} x ORDER BY 1"
            )]  # fmt: skip
        if kind in ("v", "m"):
            entry["definition"] = db.one("SELECT pg_get_viewdef(%s::oid)", (oid,))
        snap[(schema, name)] = entry
    for oid, *column in db.rows(
        "SELECT a.attrelid::int8, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, col_description(a.attrelid, "
        "a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
        "AND d.adnum = a.attnum WHERE a.attrelid = ANY(%s::oid[]) AND a.attnum > 0 "
        "AND NOT a.attisdropped",
        (oids,),
    ):
        snap[key_of[oid]]["columns"].append(tuple(column))
    for oid, *constraint in db.rows(
        "SELECT conrelid::int8, conname, contype::text, pg_get_constraintdef(oid), convalidated "
        "FROM pg_constraint WHERE conrelid = ANY(%s::oid[])",
        (oids,),
    ):
        snap[key_of[oid]]["constraints"].append(tuple(constraint))
    for oid, *index in db.rows(
        "SELECT i.indrelid::int8, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "WHERE i.indrelid = ANY(%s::oid[])",
        (oids,),
    ):
        snap[key_of[oid]]["indexes"].append(tuple(index))
    for oid, *trigger in db.rows(
        "SELECT tgrelid::int8, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE NOT tgisinternal AND tgrelid = ANY(%s::oid[])",
        (oids,),
    ):
        snap[key_of[oid]]["triggers"].append(tuple(trigger))
    for oid, type_, maximum in db.rows(
        "SELECT seqrelid::int8, format_type(seqtypid, NULL), seqmax FROM pg_sequence "
        "WHERE seqrelid = ANY(%s::oid[])",
        (oids,),
    ):
        snap[key_of[oid]]["sequence"] = (type_, maximum)
    for oid, owner in db.rows(
        "SELECT objid::int8, refobjid::int8 FROM pg_depend WHERE classid = 'pg_class'::regclass "
        "AND refclassid = 'pg_class'::regclass AND deptype IN ('a', 'i') "
        "AND objid = ANY(%s::oid[])",
        (oids,),
    ):
        if owner in key_of and oid in key_of:
            snap[key_of[oid]]["owner"] = key_of[owner]
    for entry in snap.values():
        for part in ("columns", "constraints", "indexes", "triggers"):
            entry[part].sort()
    snap[(GLOBAL, "functions")] = {"rows": db.rows(
        "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT LIKE 'pg\\_%%' "
        "AND n.nspname NOT IN ('information_schema', %s) ORDER BY 1, 2, 3",
        (PG_STATE_SCHEMA,),
    )}  # fmt: skip
    snap[(GLOBAL, "schemas")] = {"rows": db.rows(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> %s "
        "ORDER BY 1",
        (PG_STATE_SCHEMA,),
    )}  # fmt: skip
    return snap


def pg_leftovers(db: Db) -> list[tuple[Any, ...]]:
    """schemashift's own objects anywhere in the database (the state schema aside)."""
    return db.rows(
        "SELECT 'trigger', tgrelid::regclass::text, tgname::text FROM pg_trigger "
        "WHERE NOT tgisinternal "
        "UNION ALL SELECT 'function', n.nspname::text, p.proname::text FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname LIKE 'schemashift%%' "
        "UNION ALL SELECT 'column', a.attrelid::regclass::text, a.attname::text "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relkind = 'r' AND a.attname LIKE '\\_ss\\_%%' AND NOT a.attisdropped "
        "UNION ALL SELECT 'constraint', conrelid::regclass::text, conname::text "
        "FROM pg_constraint WHERE conname LIKE 'ck\\_%%not\\_null'",
        (),
    )


def my_snapshot(db: Db) -> Snapshot:
    """Every table and view of both databases (schemashift's state tables aside): its
    SHOW CREATE TABLE, triggers and rows."""
    snap: Snapshot = {}
    for schema in (db.schema, db.other):
        triggers: dict[str, list[tuple[Any, ...]]] = {}
        for row in db.rows(f"SHOW TRIGGERS FROM {qi(schema, 'mysql')}"):
            triggers.setdefault(row[2], []).append((row[0], row[1], row[3], row[4]))
        for name, kind in db.rows(f"SHOW FULL TABLES FROM {qi(schema, 'mysql')}"):
            if schema == db.schema and name.startswith("schemashift_"):
                continue
            table = f"{qi(schema, 'mysql')}.{qi(name, 'mysql')}"
            snap[(schema, name)] = {
                "kind": kind,
                "create": db.one(f"SHOW CREATE TABLE {table}")[1],
                "triggers": sorted(triggers.pop(name, [])),
                "rows": sorted((db.rows(f"SELECT * FROM {table}")), key=repr),
                "owner": None,
            }
        # Triggers on tables that are gone (or on state tables) still count.
        for name, rows in triggers.items():
            snap.setdefault((schema, f"<triggers on {name}>"), {"triggers": rows, "owner": None})
    return snap


def my_leftovers(db: Db) -> list[tuple[Any, ...]]:
    return db.rows(
        "SELECT 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA IN (%s, %s) "
        "UNION ALL SELECT 'column', TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA IN (%s, %s) AND COLUMN_NAME LIKE '\\_ss\\_%%'",
        (db.schema, db.other, db.schema, db.other),
    )


# --------------------------------------------------------------------------- strategies


@dataclass(frozen=True)
class Shape:
    """One strategy's case: the table (created for the target and every decoy alike), its
    rows, the migration, and what the target must look like after contract. Templates
    take ``{t}`` ``{c}`` ``{c2}`` ``{k}`` ``{t2}`` (the names as SQL)."""

    id: str
    strategy: str  # the strategy module that must plan the migration
    table: str
    rows: str
    migration: str
    final: Callable[[Db, Name], None]


def _fill(template: str, n: Name, t: str | None = None, c: str | None = None) -> str:
    return template.format(t=t or n.t, c=c or n.c, c2=n.c2, k=n.k, t2=n.t2)


# PostgreSQL helpers ----------------------------------------------------------


def pg_column(db: Db, table_sql: str, column: str) -> tuple[str, bool, str | None, str]:
    """(type, NOT NULL, default, identity) of a column of the table the SQL name names."""
    result: tuple[str, bool, str | None, str] = db.one(
        "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity::text FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
        (table_sql, column),
    )
    return result


def pg_columns(db: Db, table_sql: str) -> list[str]:
    return [r[0] for r in db.rows(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attname",
        (table_sql,),
    )]  # fmt: skip


def pg_exists(db: Db, table_sql: str) -> bool:
    return db.one("SELECT to_regclass(%s) IS NOT NULL", (table_sql,)) is True


def pg_constraint(db: Db, n: Name) -> tuple[str, bool, str]:
    result: tuple[str, bool, str] = db.one(
        "SELECT contype::text, convalidated, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND conname = %s",
        (n.t, ident(n.k, "postgres")),
    )
    return result


def _pg_rows(db: Db, n: Name, column: str) -> list[tuple[Any, ...]]:
    return db.rows(f"SELECT id, {column}, note FROM {n.t} ORDER BY id")


def _pg_rename_column(db: Db, n: Name) -> None:
    new = ident(n.c2, "postgres")
    assert pg_columns(db, n.t) == sorted(["id", new, "note"])
    assert pg_column(db, n.t, new) == ("text", True, None, "")
    assert _pg_rows(db, n, n.c2) == ROWS


def _pg_rename_table(db: Db, n: Name) -> None:
    assert not pg_exists(db, n.t), f"{n.t} (the old name, or its view) is still there"
    assert db.one("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)",
                  (n.t2_full,)) == "r"  # fmt: skip
    assert db.rows(f"SELECT id, {n.c}, note FROM {n.t2_full} ORDER BY id") == ROWS


def _pg_narrowed(db: Db, n: Name) -> None:
    assert pg_column(db, n.t, ident(n.c, "postgres")) == ("integer", True, "1", "")
    assert _pg_rows(db, n, n.c) == [(1, 1, "n1"), (2, 2, None), (3, 3, "n3")]


def _pg_converted(db: Db, n: Name) -> None:
    assert pg_column(db, n.t, ident(n.c, "postgres")) == ("integer", True, None, "")
    assert _pg_rows(db, n, n.c) == [(1, 1, "n1"), (2, 20, None), (3, 3, "n3")]


def _pg_added(db: Db, n: Name) -> None:
    assert pg_column(db, n.t, ident(n.c2, "postgres")) == ("uuid", True, "gen_random_uuid()", "")
    assert db.one(f"SELECT count(DISTINCT {n.c2}) FROM {n.t}") == 3
    assert _pg_rows(db, n, n.c) == ROWS


def _pg_set_not_null(db: Db, n: Name) -> None:
    assert pg_column(db, n.t, ident(n.c, "postgres")) == ("text", True, None, "")
    assert _pg_rows(db, n, n.c) == [(1, "v1", "n1"), (2, "filled", None), (3, "v3", "n3")]


def _pg_foreign_key(db: Db, n: Name) -> None:
    kind, valid, _ = pg_constraint(db, n)
    assert (kind, valid) == ("f", True)
    assert db.one(
        "SELECT confrelid = conrelid FROM pg_constraint WHERE conrelid = to_regclass(%s) "
        "AND conname = %s",
        (n.t, ident(n.k, "postgres")),
    )
    assert _pg_rows(db, n, n.c) == [(1, None, "n1"), (2, 1, None), (3, 2, "n3")]


def _pg_constraint_valid(kind: str) -> Callable[[Db, Name], None]:
    def check(db: Db, n: Name) -> None:
        assert pg_constraint(db, n)[:2] == (kind, True)
        assert _pg_rows(db, n, n.c) == ROWS

    return check


def _pg_index(db: Db, n: Name) -> None:
    valid, columns = db.one(
        "SELECT i.indisvalid, (SELECT array_agg(attname::text) FROM pg_attribute "
        "WHERE attrelid = i.indrelid AND attnum = ANY(i.indkey)) FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND ic.relname = %s",
        (n.t, ident(n.k, "postgres")),
    )
    assert valid is True
    assert columns == [ident(n.c, "postgres")]
    assert _pg_rows(db, n, n.c) == ROWS


def _pg_dropped_column(db: Db, n: Name) -> None:
    assert pg_columns(db, n.t) == ["id", "note"]
    assert db.rows(f"SELECT id, note FROM {n.t} ORDER BY id") == [(1, "n1"), (2, None), (3, "n3")]


def _pg_dropped_table(db: Db, n: Name) -> None:
    assert not pg_exists(db, n.t)


def _pg_bigint(identity: bool) -> Callable[[Db, Name], None]:
    def check(db: Db, n: Name) -> None:
        type_, not_null, default, ident_kind = pg_column(db, n.t, "id")
        assert (type_, not_null) == ("bigint", True)
        if identity:
            assert (default, ident_kind) == (None, "d")
        else:
            assert default is not None and default.startswith("nextval(")
        assert (
            db.one(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
                "AND contype = 'p'",
                (n.t,),
            )
            == "PRIMARY KEY (id)"
        )
        assert _pg_rows(db, n, n.c) == ROWS
        assert db.one(f"INSERT INTO {n.t} ({n.c}) VALUES ('v4') RETURNING id") == 4

    return check


_PG_TABLE = "CREATE TABLE {t} (id int PRIMARY KEY, {c} text NOT NULL, note text)"
_PG_ROWS = (
    "INSERT INTO {t} (id, {c}, note) VALUES (1, 'v1', 'n1'), (2, 'v2', NULL), (3, 'v3', 'n3')"
)
_PG_SERIAL_ROWS = "INSERT INTO {t} ({c}, note) VALUES ('v1', 'n1'), ('v2', NULL), ('v3', 'n3')"

PG_SHAPES = [
    Shape("rename_column", "rename_column", _PG_TABLE, _PG_ROWS,
          "ALTER TABLE {t} RENAME COLUMN {c} TO {c2};", _pg_rename_column),
    Shape("rename_table", "rename_table", _PG_TABLE, _PG_ROWS,
          "ALTER TABLE {t} RENAME TO {t2};", _pg_rename_table),
    Shape("change_column_type", "change_column_type",
          "CREATE TABLE {t} (id int PRIMARY KEY, {c} bigint NOT NULL DEFAULT 1, note text)",
          "INSERT INTO {t} (id, {c}, note) VALUES (1, 1, 'n1'), (2, 2, NULL), (3, 3, 'n3')",
          "ALTER TABLE {t} ALTER COLUMN {c} TYPE integer;", _pg_narrowed),
    Shape("change_column_type_using", "change_column_type", _PG_TABLE,
          "INSERT INTO {t} (id, {c}, note) VALUES (1, ' 1', 'n1'), (2, '20 ', NULL), (3, '3', 'n3')",
          "ALTER TABLE {t} ALTER COLUMN {c} TYPE integer USING trim({c})::integer;",
          _pg_converted),
    Shape("add_not_null_column", "add_not_null_column", _PG_TABLE, _PG_ROWS,
          "ALTER TABLE {t} ADD COLUMN {c2} uuid NOT NULL DEFAULT gen_random_uuid();", _pg_added),
    Shape("set_not_null", "set_not_null",
          "CREATE TABLE {t} (id int PRIMARY KEY, {c} text, note text)",
          "INSERT INTO {t} (id, {c}, note) VALUES (1, 'v1', 'n1'), (2, NULL, NULL), (3, 'v3', 'n3')",
          "UPDATE {t} SET {c} = 'filled' WHERE {c} IS NULL;\n"
          "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;", _pg_set_not_null),
    Shape("add_foreign_key", "add_foreign_key",
          "CREATE TABLE {t} (id int PRIMARY KEY, {c} int, note text)",
          "INSERT INTO {t} (id, {c}, note) VALUES (1, NULL, 'n1'), (2, 1, NULL), (3, 2, 'n3')",
          "ALTER TABLE {t} ADD CONSTRAINT {k} FOREIGN KEY ({c}) REFERENCES {t} (id);",
          _pg_foreign_key),
    Shape("add_unique", "add_unique", _PG_TABLE, _PG_ROWS,
          "ALTER TABLE {t} ADD CONSTRAINT {k} UNIQUE ({c});", _pg_constraint_valid("u")),
    Shape("add_check", "add_check", _PG_TABLE, _PG_ROWS,
          "ALTER TABLE {t} ADD CONSTRAINT {k} CHECK ({c} <> '');", _pg_constraint_valid("c")),
    Shape("create_index", "create_index", _PG_TABLE, _PG_ROWS,
          "CREATE INDEX {k} ON {t} ({c});", _pg_index),
    Shape("drop_column", "drop_column", _PG_TABLE, _PG_ROWS,
          "ALTER TABLE {t} DROP COLUMN {c};", _pg_dropped_column),
    Shape("drop_table", "drop_table", _PG_TABLE, _PG_ROWS,
          "DROP TABLE {t};", _pg_dropped_table),
    Shape("bigint_primary_key", "bigint_primary_key",
          "CREATE TABLE {t} (id serial PRIMARY KEY, {c} text NOT NULL, note text)",
          _PG_SERIAL_ROWS, "ALTER TABLE {t} ALTER COLUMN id TYPE bigint;", _pg_bigint(False)),
    Shape("bigint_primary_key_identity", "bigint_primary_key",
          "CREATE TABLE {t} (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
          "{c} text NOT NULL, note text)",
          _PG_SERIAL_ROWS, "ALTER TABLE {t} ALTER COLUMN id TYPE bigint;", _pg_bigint(True)),
]  # fmt: skip


# MariaDB helpers --------------------------------------------------------------


def my_columns(db: Db, table_sql: str) -> dict[str, tuple[str, str, str | None]]:
    """Field → (type, NULL-able, default), from SHOW FULL COLUMNS of the named table."""
    return {r[0]: (r[1], r[3], r[5]) for r in db.rows(f"SHOW FULL COLUMNS FROM {table_sql}")}


def _my_rows(db: Db, n: Name, column: str) -> list[tuple[Any, ...]]:
    return db.rows(f"SELECT id, {column}, note FROM {n.t} ORDER BY id")


def _my_renamed(db: Db, n: Name) -> None:
    new = ident(n.c2, "mysql")
    cols = my_columns(db, n.t)
    assert sorted(cols) == sorted(["id", new, "note"])
    assert cols[new] == ("varchar(50)", "NO", "anon")
    assert _my_rows(db, n, n.c2) == ROWS


def _my_narrowed(db: Db, n: Name) -> None:
    assert my_columns(db, n.t)[ident(n.c, "mysql")] == ("int(11)", "NO", "1")
    assert _my_rows(db, n, n.c) == [(1, 1, "n1"), (2, 2, None), (3, 3, "n3")]


def _my_added(db: Db, n: Name) -> None:
    assert my_columns(db, n.t)[ident(n.c2, "mysql")] == ("varchar(20)", "NO", None)
    assert db.rows(f"SELECT DISTINCT {n.c2} FROM {n.t}") == [("active",)]
    assert _my_rows(db, n, n.c) == ROWS


def _my_index(db: Db, n: Name) -> None:
    index = [(r[2], r[4]) for r in db.rows(f"SHOW INDEX FROM {n.t}") if r[2] != "PRIMARY"]
    assert index == [(ident(n.k, "mysql"), ident(n.c, "mysql"))]
    assert _my_rows(db, n, n.c) == ROWS


def _my_dropped_column(db: Db, n: Name) -> None:
    assert sorted(my_columns(db, n.t)) == ["id", "note"]
    assert db.rows(f"SELECT id, note FROM {n.t} ORDER BY id") == [(1, "n1"), (2, None), (3, "n3")]


def _my_dropped_table(db: Db, n: Name) -> None:
    schema, name = db.key(n.t)
    assert (name, "BASE TABLE") not in db.rows(f"SHOW FULL TABLES FROM {qi(schema, 'mysql')}")


_MY_TABLE = ("CREATE TABLE {t} (id int PRIMARY KEY, {c} varchar(50) NOT NULL DEFAULT 'anon', "
             "note varchar(50) NULL)")  # fmt: skip

MY_SHAPES = [
    Shape("rename_column", "rename_column", _MY_TABLE, _PG_ROWS,
          "ALTER TABLE {t} RENAME COLUMN {c} TO {c2};", _my_renamed),
    Shape("rename_column_change", "rename_column", _MY_TABLE, _PG_ROWS,
          "ALTER TABLE {t} CHANGE {c} {c2} varchar(50) NOT NULL DEFAULT 'anon';", _my_renamed),
    Shape("change_column_type", "change_column_type",
          "CREATE TABLE {t} (id int PRIMARY KEY, {c} bigint NOT NULL DEFAULT 1, "
          "note varchar(50) NULL)",
          "INSERT INTO {t} (id, {c}, note) VALUES (1, 1, 'n1'), (2, 2, NULL), (3, 3, 'n3')",
          "ALTER TABLE {t} MODIFY COLUMN {c} int NOT NULL DEFAULT 1;", _my_narrowed),
    Shape("add_not_null_column", "add_not_null_column", _MY_TABLE, _PG_ROWS,
          "ALTER TABLE {t} ADD COLUMN {c2} varchar(20) NOT NULL;\n"
          "UPDATE {t} SET {c2} = 'active' WHERE {c2} IS NULL;", _my_added),
    Shape("create_index", "create_index", _MY_TABLE, _PG_ROWS,
          "CREATE INDEX {k} ON {t} ({c});", _my_index),
    Shape("drop_column", "drop_column", _MY_TABLE, _PG_ROWS,
          "ALTER TABLE {t} DROP COLUMN {c};", _my_dropped_column),
    Shape("drop_table", "drop_table", _MY_TABLE, _PG_ROWS, "DROP TABLE {t};", _my_dropped_table),
]  # fmt: skip


# --------------------------------------------------------------------------- the cases



@dataclass(frozen=True)
class Case:
    dialect: str
    name: Name
    shape: Shape

    @property
    def id(self) -> str:
        return f"{self.name.id}-{self.shape.id}"


def _cases(dialect: str, names: list[Name], shapes: list[Shape]) -> list[Any]:
    params = []
    for name in names:
        for shape in shapes:
            if name.shapes and shape.id not in name.shapes:
                continue
            marks: list[Any] = [
                pytest.mark.postgres if dialect == "postgres" else pytest.mark.mysql
            ]
            case = Case(dialect, name, shape)
            params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def _setup(db: Db, n: Name, shape: Shape) -> None:
    for statement in n.prelude:
        db.run(statement)
    if n.create_target:
        db.run(_fill(shape.table, n))
        db.run(_fill(shape.rows, n))
    for table, column in n.decoys:
        db.run(_fill(shape.table, n, t=table, c=column))
        db.run(_fill(shape.rows, n, t=table, c=column))
        # Something of the decoy's own for a confused engine to break.
        if db.dialect == "mysql":
            db.run(f"CREATE INDEX decoy_note ON {table} (note)")
        else:
            db.run(f"CREATE INDEX ON {table} (note)")


def _others(
    snap: Snapshot, targets: set[tuple[str, str]], *, tables_only: bool = False
) -> Snapshot:
    """The snapshot without the target (under its old and new name) and what it owns."""
    return {
        k: v
        for k, v in snap.items()
        if k not in targets and v.get("owner") not in targets
        and not (tables_only and k[0] == GLOBAL)
    }  # fmt: skip


def _diff(before: Snapshot, after: Snapshot) -> str:
    """What changed, one line per table and part (for assertion messages)."""
    out = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            out.append(f"{key}: gone")
        elif key not in before:
            out.append(f"{key}: new {after[key]}")
        elif before[key] != after[key]:
            for part in sorted(set(before[key]) | set(after[key])):
                old, new = before[key].get(part), after[key].get(part)
                if old != new:
                    out.append(f"{key} {part}: {old} -> {new}")
    return "\n".join(out)


def _same(before: Snapshot, after: Snapshot, what: str) -> None:
    assert after == before, f"{what}:\n{_diff(before, after)}"


def _run_case(case: Case, db: Db) -> None:
    n, shape, dialect = case.name, case.shape, case.dialect
    snapshot = pg_snapshot if dialect == "postgres" else my_snapshot
    leftovers = pg_leftovers if dialect == "postgres" else my_leftovers
    _setup(db, n, shape)
    before = snapshot(db)
    decoys = [db.key(table) for table, _ in n.decoys]
    for key in decoys:
        assert key in before, f"decoy {key} was not created"
    targets = {db.key(n.t)} | ({db.key(n.t2_full)} if n.t2_full else set())
    config = Config(dialect=dialect)
    runner = Runner(db.url, config, RunOptions(quiet=True, lock_timeout_ms=5000))
    migration = _fill(shape.migration, n)
    migration_id = f"m_{n.id}_{shape.id}"

    refusal = n.refusal(shape.id)
    if refusal is not None:
        error: BaseException
        try:
            plan = plan_sql(migration, migration_id, config)
        except PlanError as exc:
            error = exc
        else:  # the plan passed: then the expand must refuse it, before changing anything
            with pytest.raises(Exception) as refused:
                runner.run(plan, Phase.EXPAND)
            error = refused.value
        assert re.search(refusal, str(error)), f"unclear refusal: {type(error).__name__}: {error}"
        _same(before, snapshot(db), "a refused migration changed the database")
        assert leftovers(db) == []
        return

    plan = plan_sql(migration, migration_id, config)
    assert any(s.endswith(f" {shape.strategy}") for s in plan.strategies), plan.strategies

    runner.run(plan, Phase.EXPAND)
    expanded = snapshot(db)
    for key in decoys:
        _same({key: before[key]}, {key: expanded.get(key, {})}, "expand changed the decoy")
    _same(_others(before, targets, tables_only=True), _others(expanded, targets, tables_only=True),
          "expand changed a table other than the target")  # fmt: skip

    runner.rollback(plan)
    _same(before, snapshot(db), "rollback did not restore the snapshot")
    assert leftovers(db) == []

    for phase in (Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT):
        runner.run(plan, phase)
    after = snapshot(db)
    for key in decoys:
        _same({key: before[key]}, {key: after.get(key, {})}, "the migration changed the decoy")
    _same(_others(before, targets), _others(after, targets),
          "the migration changed something other than the target")  # fmt: skip
    assert leftovers(db) == [], "schemashift objects left after contract"
    shape.final(db, n)


@pytest.mark.parametrize("case", _cases("postgres", PG_NAMES, PG_SHAPES))
def test_postgres_identifier(case: Case, pg_db: Db) -> None:
    _run_case(case, pg_db)


@pytest.mark.parametrize("case", _cases("mysql", MY_NAMES, MY_SHAPES))
def test_mysql_identifier(case: Case, my_db: Db) -> None:
    _run_case(replace(case, name=case.name.with_other_db(my_db.other)), my_db)


def test_matrix_covers_every_strategy() -> None:
    from schemashift.strategies import STRATEGIES, strategy_name

    for dialect, shapes in (("postgres", PG_SHAPES), ("mysql", MY_SHAPES)):
        names = {strategy_name(s) for s in STRATEGIES if dialect in s.DIALECTS}
        assert names - {s.strategy for s in shapes} == set(), dialect
