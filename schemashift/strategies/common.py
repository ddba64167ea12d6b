"""What several strategies share: names, generated names, run-time references, and the
catalog-reading SQL that carries a column's properties (NOT NULL, default, sequence,
identity) from an old column to its replacement.

Pure text building: nothing here talks to a database. Tables arrive as canonical strings
(sqltext/names.py) and are read once into :class:`TableName` parts; every statement quotes
each part for its dialect. References (``type_of``, ``pk_of``, ``coldef_of``) are resolved
by the runner from the catalog as it was when expand started (sqltext/refs.py).

Idempotence: on PostgreSQL a step runs in one transaction with its record, so it needs
none; a ``concurrent`` step and every MySQL statement group commit on their own, so they
are written to be re-runnable after a kill (``IF [NOT] EXISTS``, catalog guards).
"""

from __future__ import annotations

import hashlib
import re

from schemashift.model import Phase
from schemashift.phases.plan import Step, Verify
from schemashift.sqltext import refs, triggers
from schemashift.sqltext.names import BadName, TableName, check_ident, quote_ident, split_name
from schemashift.sqltext.plpgsql import Dyn, concat, do_block

MAX_IDENTIFIER = {"postgres": 63, "mysql": 64}
# Marker prepended to a column comment by drop_column's expand, so rollback knows the column
# was NOT NULL before (written in the same ALTER as the change: atomic on every server).
WAS_NOT_NULL = "schemashift:was-not-null;"

__all__ = ["BadName", "TableName", "do_block"]


class StrategyError(ValueError):
    """The statement cannot be planned by this strategy (the planner reports it)."""


# --------------------------------------------------------------------------- names


def table_of(table: str | None, dialect: str) -> TableName:
    """The action's table (a canonical string) as checked parts."""
    if not table:
        raise StrategyError("the statement names no table")
    try:
        return TableName.parse(table, dialect)
    except BadName as exc:
        raise StrategyError(str(exc)) from None


def column_of(column: str | None, dialect: str, what: str = "column") -> str:
    """A column name (canonical, as the parser gives it) as the server stores it: unquoted,
    checked, truncated like PostgreSQL does."""
    if not column:
        raise StrategyError(f"the statement names no {what}")
    try:
        parts = split_name(column, dialect)
        if len(parts) != 1:
            raise BadName(f"{what} {column!r} is not a single name")
        return check_ident(parts[0], dialect, what)
    except BadName as exc:
        raise StrategyError(str(exc)) from None


def name_of(name: str | None, dialect: str, what: str = "name") -> str | None:
    """An index or constraint name the parser gave (canonical), unquoted; None stays."""
    return None if name is None else column_of(name, dialect, what)


def quote(name: str, dialect: str) -> str:
    """An identifier as SQL: backticks on MySQL, double quotes on PostgreSQL when needed."""
    return quote_ident(name, dialect)


def literal(text: str, dialect: str = "postgres") -> str:
    """A SQL string literal. MySQL's default sql_mode also treats backslash as an escape."""
    body = text.replace("'", "''")
    if dialect == "mysql":
        body = body.replace("\\", "\\\\")
    return f"'{body}'"


def regclass(t: TableName) -> str:
    """``'users'::regclass``: the table's oid, resolved like the migration's own SQL."""
    return f"{literal(t.sql('postgres'))}::regclass"


def short_name(name: str, dialect: str = "postgres") -> str:
    """``name`` within the dialect's identifier limit; a longer one keeps a prefix and gets a
    hash, so two long names never collide after truncation."""
    if dialect != "mysql":
        return triggers.short_name(name)
    if len(name) <= MAX_IDENTIFIER["mysql"]:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name[: MAX_IDENTIFIER["mysql"] - 9] + "_" + digest


def shadow_name(column: str, dialect: str = "postgres") -> str:
    """The internal column that takes ``column``'s place at contract (type changes)."""
    return short_name(f"_ss_new_{column}", dialect)


def not_null_check_name(t: TableName, column: str) -> str:
    """The CHECK (c IS NOT NULL) used on the way to SET NOT NULL (same name Alembic's split
    gives it, so a plan and a generated revision agree)."""
    return short_name(f"ck_{t.name}_{column}_not_null")


# --------------------------------------------------------------------------- references


def type_of(t: TableName, column: str) -> str:
    """Reference: the column's type, as it was when expand started."""
    return refs.ref("type", t.canonical, column)


def pk_of(t: TableName) -> str:
    """Reference: the table's primary-key column, quoted."""
    return refs.ref("pk", t.canonical)


def coldef_of(t: TableName, column: str) -> str:
    """Reference (MySQL): the column's whole definition as it was when expand started."""
    return refs.ref("coldef", t.canonical, column)


# --------------------------------------------------------------------------- statement text


def statement_text(sql: str) -> str:
    """The statement without surrounding blanks or its final semicolon."""
    return sql.strip().rstrip(";").rstrip()


def balanced(text: str, start: int) -> int:
    """Index just past the parenthesis group opening at ``text[start]`` (== "("), skipping
    strings and quoted identifiers; -1 when it never closes."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch in "'\"`":
            end = text.find(ch, i + 1)
            while end != -1 and end + 1 < len(text) and text[end + 1] == ch:
                end = text.find(ch, end + 2)
            if end == -1:
                return -1
            i = end + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def split_columns(text: str) -> list[str]:
    """``'a, "B c"'`` → ``['a', 'B c']``: a column list's names, unquoted."""
    out = []
    for part in re.findall(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^,\s][^,]*', text):
        part = part.strip()
        if part[:1] == '"':
            out.append(part[1:-1].replace('""', '"'))
        elif part[:1] == "`":
            out.append(part[1:-1].replace("``", "`"))
        else:
            out.append(part.lower())
    return out


def replace_column(expr: str, column: str, replacement: str) -> str:
    """Every reference to ``column`` in ``expr`` (outside string literals) replaced."""
    pattern = re.compile(
        r"'(?:[^']|'')*'|"
        + rf'(?<![\w."]){re.escape(column)}(?![\w"])|"{re.escape(column.replace(chr(34), chr(34) * 2))}"',
        re.IGNORECASE,
    )
    return pattern.sub(lambda m: m.group(0) if m.group(0)[0] == "'" else replacement, expr)


# --------------------------------------------------------------------------- PostgreSQL


def attnum(t: TableName, column: str) -> str:
    return (
        f"(SELECT attnum FROM pg_attribute WHERE attrelid = {regclass(t)} "
        f"AND attname = {literal(column)} AND NOT attisdropped)"
    )


def pg_column_exists(t: TableName, column: str) -> str:
    """A condition: ``column`` exists in the table."""
    return (
        f"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {regclass(t)} "
        f"AND attname = {literal(column)} AND attnum > 0 AND NOT attisdropped)"
    )


def pg_index_valid_verify(t: TableName, index: str) -> Verify:
    """Returns the index name when it is missing or INVALID (a failed CONCURRENTLY build)."""
    return Verify(
        f"index {index} exists and is valid (an INVALID one is left by a failed build: "
        "roll back and expand again)",
        f"SELECT {literal(index)} AS index_name WHERE NOT EXISTS ("
        "SELECT 1 FROM pg_index i "
        f"WHERE i.indexrelid = to_regclass({literal(t.sibling(index, 'postgres'))}) "
        "AND i.indisvalid)",
    )


def pg_not_null_check_if(t: TableName, old: str, new: str, check: str) -> str:
    """Expand: when ``old`` is NOT NULL, require ``new`` to be too - NOT VALID, so only new
    writes are checked (the sync trigger fills ``new`` on every write)."""
    return do_block(
        "BEGIN\n"
        f"    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {regclass(t)}\n"
        f"               AND attname = {literal(old)} AND attnotnull AND NOT attisdropped)\n"
        f"       AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {regclass(t)}\n"
        f"                       AND conname = {literal(check)}) THEN\n"
        f"        ALTER TABLE {t.sql('postgres')} ADD CONSTRAINT "
        f"{quote(check, 'postgres')} CHECK ({quote(new, 'postgres')} IS NOT NULL) NOT VALID;\n"
        "    END IF;\n"
        "END"
    )


def pg_validate_if_present(t: TableName, check: str) -> str:
    """Verify: VALIDATE the constraint when the expand added it (SHARE UPDATE EXCLUSIVE)."""
    return do_block(
        "BEGIN\n"
        f"    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {regclass(t)}\n"
        f"               AND conname = {literal(check)} AND NOT convalidated) THEN\n"
        f"        ALTER TABLE {t.sql('postgres')} VALIDATE CONSTRAINT "
        f"{quote(check, 'postgres')};\n"
        "    END IF;\n"
        "END"
    )


def pg_carry_column(
    t: TableName, old: str, new: str, check: str, *, widen_sequence: bool = False,
    new_type: str | None = None,
) -> str:
    """Contract: give ``new`` what ``old`` had - NOT NULL (through the validated CHECK, so
    no scan), its default, its serial sequence (ownership moves, or the drop of ``old`` would
    take the sequence with it) or its identity (continuing from the last value).

    ``widen_sequence``: a serial's sequence becomes ``AS bigint`` (int → bigint keys).
    ``new_type``: ``new`` has another type than ``old`` (a type change): the default is cast
    to it, as ALTER … TYPE would have to (``'0'::text`` cannot default an integer).
    Refuses, naming the column, when ``old`` is gone: there is nothing left to carry.
    """
    ts = t.sql("postgres")
    n = quote(new, "postgres")
    o = quote(old, "postgres")
    gone = literal(f"schemashift: column {old} of {t} is gone: nothing to carry over to {new}")
    widen = (
        f"        IF seq IS NOT NULL THEN\n"
        f"            EXECUTE {concat('ALTER SEQUENCE ', Dyn('seq'), ' AS bigint')};\n"
        "        END IF;\n"
        if widen_sequence
        else ""
    )
    identity = concat(
        f"ALTER TABLE {ts} ALTER COLUMN {n} ADD GENERATED ",
        Dyn("CASE ident WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END"),
        " AS IDENTITY (START WITH ",
        Dyn("coalesce(last, 0) + 1"),
        ")",
    )
    set_default = (
        concat(f"ALTER TABLE {ts} ALTER COLUMN {n} SET DEFAULT (", Dyn("d"), f")::{new_type}")
        if new_type else concat(f"ALTER TABLE {ts} ALTER COLUMN {n} SET DEFAULT ", Dyn("d"))
    )  # fmt: skip
    return do_block(
        "DECLARE\n"
        "    d text;\n"
        '    ident "char";\n'
        "    seq text;\n"
        "    last bigint;\n"
        "BEGIN\n"
        f"    IF NOT {pg_column_exists(t, old)} THEN\n"
        f"        RAISE EXCEPTION '%', {gone};\n"
        "    END IF;\n"
        "    SELECT pg_get_expr(ad.adbin, ad.adrelid), a.attidentity INTO d, ident\n"
        "      FROM pg_attribute a\n"
        "      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum\n"
        f"     WHERE a.attrelid = {regclass(t)} AND a.attname = {literal(old)};\n"
        # The column argument is taken literally (not parsed as SQL): the bare name.
        f"    seq := pg_get_serial_sequence({literal(ts)}, {literal(old)});\n"
        f"    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {regclass(t)}\n"
        f"               AND conname = {literal(check)}) THEN\n"
        f"        ALTER TABLE {ts} ALTER COLUMN {n} SET NOT NULL;\n"
        f"        ALTER TABLE {ts} DROP CONSTRAINT {quote(check, 'postgres')};\n"
        "    END IF;\n"
        "    IF ident IN ('a', 'd') THEN\n"
        "        last := pg_sequence_last_value(seq::regclass);\n"
        f"        ALTER TABLE {ts} ALTER COLUMN {o} DROP IDENTITY;\n"
        f"        EXECUTE {identity};\n"
        "    ELSE\n"
        "        IF seq IS NOT NULL THEN\n"
        f"            EXECUTE {concat('ALTER SEQUENCE ', Dyn('seq'), f' OWNED BY {ts}.{n}')};\n"
        "        END IF;\n"
        f"{widen}"
        "        IF d IS NOT NULL THEN\n"
        f"            EXECUTE {set_default};\n"
        "        END IF;\n"
        "    END IF;\n"
        "END"
    )


def pg_index_carry_verify(t: TableName, old: str, new: str, *, skip_primary: bool = False) -> Verify:
    """Indexes (and so unique and primary-key constraints) on ``old`` vanish with it at
    contract: list those with no index on ``new`` to take their place (a unique one needs a
    unique counterpart)."""
    primary = " AND NOT i.indisprimary" if skip_primary else ""
    return Verify(
        f"every index on {old} has a counterpart on {new} (dropping {old} drops its "
        f"indexes: create them on {new} first, CONCURRENTLY)",
        "SELECT i.indexrelid::regclass::text AS index_name FROM pg_index i "
        f"WHERE i.indrelid = {regclass(t)}{primary} "
        f"AND {attnum(t, old)} = ANY (i.indkey) "
        "AND NOT EXISTS (SELECT 1 FROM pg_index j WHERE j.indrelid = i.indrelid "
        f"AND {attnum(t, new)} = ANY (j.indkey) AND (j.indisunique OR NOT i.indisunique))",
    )


def pg_not_null_contract(t: TableName, column: str, check: str) -> list[Step]:
    """Contract: CHECK … NOT VALID (brief lock, no scan) → VALIDATE (its own transaction,
    SHARE UPDATE EXCLUSIVE) on the way to a SET NOT NULL that does not scan."""
    ts = t.sql("postgres")
    c = quote(column, "postgres")
    ck = quote(check, "postgres")
    return [
        Step(
            Phase.CONTRACT,
            f"add CHECK ({column} IS NOT NULL) NOT VALID",
            sql=(
                f"ALTER TABLE {ts} DROP CONSTRAINT IF EXISTS {ck}",
                f"ALTER TABLE {ts} ADD CONSTRAINT {ck} CHECK ({c} IS NOT NULL) NOT VALID",
            ),
            why="a brief ACCESS EXCLUSIVE lock, no scan: enforced for new writes only",
        ),
        Step(
            Phase.CONTRACT,
            f"validate {check}",
            sql=(pg_validate_if_present(t, check),),
            concurrent=True,
            why="scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), in its own "
            "transaction",
        ),
    ]


def pg_not_null_steps(t: TableName, column: str, *, why: str) -> list[Step]:
    """Verify no NULLs, then contract: CHECK … NOT VALID → VALIDATE (its own transaction) →
    SET NOT NULL (no scan on 12+, thanks to the valid CHECK) → DROP CHECK."""
    ts = t.sql("postgres")
    c = quote(column, "postgres")
    check = not_null_check_name(t, column)
    ck = quote(check, "postgres")
    return [
        Step(
            Phase.VERIFY,
            f"no NULL left in {t}.{column}",
            verify=Verify(
                f"{t}.{column} has no NULL", f"SELECT {pk_of(t)} FROM {ts} WHERE {c} IS NULL"
            ),
            why=f"SET NOT NULL at contract fails on any NULL row ({why})",
        ),
        *pg_not_null_contract(t, column, check),
        Step(
            Phase.CONTRACT,
            f"set {t}.{column} NOT NULL and drop {check}",
            sql=(
                f"ALTER TABLE {ts} ALTER COLUMN {c} SET NOT NULL",
                f"ALTER TABLE {ts} DROP CONSTRAINT IF EXISTS {ck}",
            ),
            why="PostgreSQL 12+ skips the scan thanks to the valid CHECK, which is then redundant",
        ),
    ]


def pg_refuse_unless(condition: str, message: str) -> str:
    """A statement that raises ``message`` unless ``condition`` (SQL) holds: guards a step
    against a catalog that is not what the plan expects."""
    return do_block(
        "BEGIN\n"
        f"    IF NOT ({condition}) THEN\n"
        f"        RAISE EXCEPTION '%', {literal(message)};\n"
        "    END IF;\n"
        "END"
    )


# --------------------------------------------------------------------------- MySQL / MariaDB


def mysql_db(t: TableName) -> str:
    """The table's database as SQL: its schema part, else the connection's database."""
    return "DATABASE()" if t.schema is None else literal(t.schema, "mysql")


def mysql_info_where(t: TableName, column: str) -> str:
    """The information_schema.COLUMNS row of ``table.column``."""
    return (
        f"TABLE_SCHEMA = {mysql_db(t)} AND TABLE_NAME = {literal(t.name, 'mysql')} "
        f"AND COLUMN_NAME = {literal(column, 'mysql')}"
    )


def mysql_column_exists(t: TableName, column: str) -> str:
    return f"EXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE {mysql_info_where(t, column)})"


def mysql_definition(null_sql: str, comment_sql: str = "COLUMN_COMMENT") -> str:
    """A SQL expression over an information_schema.COLUMNS row that rebuilds the column's
    definition (type, collation, NULL-ness, default, ON UPDATE, comment) for MODIFY.

    MariaDB shows literal defaults quoted and ``DEFAULT NULL`` as the string 'NULL'; MySQL
    shows them bare and marks expressions DEFAULT_GENERATED. Parenthesised defaults are
    accepted by both (MariaDB 10.2+, MySQL 8.0.13+).
    """
    return (
        "CONCAT(COLUMN_TYPE, "
        "IF(COLLATION_NAME IS NULL, '', CONCAT(' COLLATE ', COLLATION_NAME)), "
        f"{null_sql}, "
        "IF(COLUMN_DEFAULT IS NULL OR COLUMN_DEFAULT = 'NULL', '', CONCAT(' DEFAULT ', "
        "IF(VERSION() LIKE '%MariaDB%' OR EXTRA LIKE '%DEFAULT_GENERATED%', "
        "CONCAT('(', COLUMN_DEFAULT, ')'), QUOTE(COLUMN_DEFAULT)))), "
        "IF(EXTRA LIKE '%on update%', CONCAT(' ', SUBSTRING(EXTRA, LOCATE('on update', EXTRA))), ''), "
        f"IF({comment_sql} = '', '', CONCAT(' COMMENT ', QUOTE({comment_sql}))))"
    )


# NULL-ness clause as the column has it, for ``mysql_definition``.
MYSQL_SAME_NULL = "IF(IS_NULLABLE = 'NO', ' NOT NULL', ' NULL')"


def mysql_locked(t: TableName, statements: tuple[str, ...]) -> tuple[str, ...]:
    """Statements run under ``LOCK TABLES … WRITE``: MySQL has no transactional DDL, and a
    trigger swap must not let a write slip between dropping a trigger and the ALTER that
    makes it unnecessary. Keep them metadata-only: the lock blocks reads and writes."""
    return (f"LOCK TABLES {t.sql('mysql')} WRITE", *statements, "UNLOCK TABLES")


def mysql_dynamic(select_sql: str) -> tuple[str, ...]:
    """Run the statement ``select_sql`` computes from the catalog (``DO 0`` when it computes
    nothing): how a static plan acts on what the live schema says, without procedures."""
    return (
        f"SET @schemashift_sql := COALESCE(({select_sql}), 'DO 0')",
        "PREPARE schemashift_stmt FROM @schemashift_sql",
        "EXECUTE schemashift_stmt",
        "DEALLOCATE PREPARE schemashift_stmt",
    )


def mysql_text(statement: str) -> str:
    """A SQL string expression whose value is ``statement``: references inside it become
    literal references (their value quoted), the rest literal pieces."""
    pieces: list[str] = []
    for piece in refs.split(statement):
        if isinstance(piece, refs.Ref):
            pieces.append(refs.ref(piece.kind, piece.table, piece.column, literal=True))
        elif piece:
            pieces.append(literal(piece, "mysql"))
    return pieces[0] if len(pieces) == 1 else f"CONCAT({', '.join(pieces)})"


def mysql_when(condition: str, statement: str) -> tuple[str, ...]:
    """``statement`` only when ``condition`` (SQL) holds: a re-runnable step on a server that
    commits every DDL statement on its own."""
    return mysql_dynamic(f"SELECT {mysql_text(statement)} FROM DUAL WHERE {condition}")


def mysql_add_column_if_missing(t: TableName, column: str, definition: str) -> tuple[str, ...]:
    """``ADD COLUMN`` that does nothing when the column is there already (a rerun after a
    kill between the ALTER's commit and its record)."""
    add = f"ALTER TABLE {t.sql('mysql')} ADD COLUMN {quote(column, 'mysql')} {definition}"
    return mysql_when(f"NOT {mysql_column_exists(t, column)}", add)


def mysql_drop_column_if_exists(t: TableName, column: str) -> tuple[str, ...]:
    """``DROP COLUMN`` that is a no-op when the column is missing (MySQL 8 has no IF EXISTS
    there): rollbacks must work after an expand that stopped half way."""
    drop = f"ALTER TABLE {t.sql('mysql')} DROP COLUMN {quote(column, 'mysql')}"
    return mysql_when(mysql_column_exists(t, column), drop)


def mysql_drop_index_if_exists(t: TableName, index: str) -> tuple[str, ...]:
    drop = f"ALTER TABLE {t.sql('mysql')} DROP INDEX {quote(index, 'mysql')}"
    return mysql_when(
        "EXISTS (SELECT 1 FROM information_schema.STATISTICS "
        f"WHERE TABLE_SCHEMA = {mysql_db(t)} AND TABLE_NAME = {literal(t.name, 'mysql')} "
        f"AND INDEX_NAME = {literal(index, 'mysql')})",
        drop,
    )


def mysql_trigger_names(base: str, suffixes: tuple[str, ...]) -> list[str]:
    return [short_name(f"{base}_{suffix}", "mysql") for suffix in suffixes]


def mysql_triggers_missing(t: TableName, names: list[str]) -> str:
    """A condition: some of the triggers ``names`` are gone (a kill after the first
    DROP TRIGGER of a contract: writes since then were not copied)."""
    listed = ", ".join(literal(n, "mysql") for n in names)
    return (
        "(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
        f"{mysql_db(t)} AND TRIGGER_NAME IN ({listed})) < {len(names)}"
    )


def mysql_triggers(
    t: TableName, base: str, bodies: dict[str, tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """(create, drop) of BEFORE triggers named ``<base>_<suffix>`` in the table's database,
    one per ``suffix: (event, body)``. ``CREATE TRIGGER IF NOT EXISTS`` (MariaDB 10.1.4+,
    MySQL 8.0.29+) makes a rerun after a kill harmless."""
    create, drop = [], []
    for suffix, (event, body) in bodies.items():
        name = t.sibling(mysql_trigger_names(base, (suffix,))[0], "mysql")
        create.append(
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON {t.sql('mysql')} "
            f"FOR EACH ROW {body}"
        )
        drop.append(f"DROP TRIGGER IF EXISTS {name}")
    return create, drop



# --------------------------------------------------------------------------- preconditions
#
# A *check* is a step with only a ``verify`` (no statements, no backfill) in the expand or
# the contract phase. The runner runs a phase's leading checks before the phase changes
# anything: expand's before the migration is even recorded, contract's before it is marked
# started (so a refusal leaves rollback open). An expand check's query returns one row per
# problem, a one-line message naming the table or column and what to do.


def is_check(step: Step) -> bool:
    """A verify-only expand or contract step (a precondition the runner checks first)."""
    return (step.phase in (Phase.EXPAND, Phase.CONTRACT) and step.verify is not None
            and not step.sql and step.backfill is None)  # fmt: skip


def _message(text: str, dialect: str) -> str:
    return literal(text, dialect)


def _table_exists(t: TableName, dialect: str) -> str:
    if dialect == "postgres":
        return f"to_regclass({literal(t.sql('postgres'))}) IS NOT NULL"
    if dialect == "mysql":
        return ("EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                f"{mysql_db(t)} AND TABLE_NAME = {literal(t.name, 'mysql')})")  # fmt: skip
    master = "sqlite_master" if t.schema is None else f"{quote(t.schema, 'sqlite')}.sqlite_master"
    return (f"EXISTS (SELECT 1 FROM {master} WHERE type = 'table' "
            f"AND name = {literal(t.name)})")  # fmt: skip


def _column_exists(t: TableName, column: str, dialect: str) -> str:
    """A condition that never fails when the table is missing (false then)."""
    if dialect == "postgres":
        return (
            "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
            f"to_regclass({literal(t.sql('postgres'))}) AND attname = {literal(column)} "
            "AND attnum > 0 AND NOT attisdropped)"
        )
    if dialect == "mysql":
        return mysql_column_exists(t, column)
    return f"EXISTS (SELECT 1 FROM pragma_table_info({literal(t.name)}) WHERE name = {literal(column)})"


def preconditions(
    t: TableName, dialect: str, *, columns: tuple[str, ...] = (),
    absent: tuple[tuple[str, str], ...] = (), mysql_no_key: tuple[str, ...] = (),
    why: str = "",
) -> Step:
    """Expand check: the table and ``columns`` exist, each ``absent`` column (name, what it
    would be) does not, and (MySQL) none of ``mysql_no_key`` is in the primary key or
    AUTO_INCREMENT. Each failure is one row: the message."""
    dual = " FROM DUAL" if dialect == "mysql" else ""
    exists = _table_exists(t, dialect)
    parts = [
        f"SELECT {_message(f'table {t} does not exist: check the table name in the migration (and the database it runs on)', dialect)} AS problem{dual} WHERE NOT {exists}"
    ]
    for column in columns:
        text = f"column {t}.{column} does not exist: check the column name in the migration"
        parts.append(f"SELECT {_message(text, dialect)}{dual} WHERE {exists} AND NOT "
                     f"{_column_exists(t, column, dialect)}")  # fmt: skip
    for column, what in absent:
        text = (f"column {t}.{column} already exists ({what}): the expand would take it over; "
                f"pick another name, or drop {t}.{column} first if nothing in it is needed")  # fmt: skip
        parts.append(f"SELECT {_message(text, dialect)}{dual} WHERE {_column_exists(t, column, dialect)}")
    if dialect == "mysql":
        for column in mysql_no_key:
            text = (
                f"column {t}.{column} is in the PRIMARY KEY or AUTO_INCREMENT: the trigger "
                "strategy copies values into a plain column and would lose the key and the "
                "counter at contract; change it with a plain ALTER TABLE when no old app "
                "version runs (a maintenance window)"
            )
            parts.append(
                f"SELECT {_message(text, 'mysql')} FROM information_schema.COLUMNS WHERE "
                f"{mysql_info_where(t, column)} AND (COLUMN_KEY = 'PRI' OR "
                "EXTRA LIKE '%auto_increment%')"
            )
    names = ", ".join([*columns, *(c for c, _ in absent)])
    return Step(
        Phase.EXPAND,
        f"check {t}" + (f" ({names})" if names else "") + " before changing anything",
        verify=Verify(f"{t} is as the migration expects", "\nUNION ALL\n".join(parts)),
        why=why or "refuse with the reason before the first statement, rather than fail "
        "half-way or take over an object the migration did not create",
    )


# --------------------------------------------------------------------------- dependents


def pg_dependents_verify(t: TableName, old: str, new: str, *,
                         ignore_checks: tuple[str, ...] = ()) -> Verify:  # fmt: skip
    """Verify: what dropping ``old`` at contract would take with it (or fail on) and has no
    counterpart on ``new``: views using it, other tables' foreign keys referencing it, its
    own FOREIGN KEY and CHECK constraints. One row per object, naming it."""
    T = f"to_regclass({literal(t.sql('postgres'))})"
    o_num = (f"(SELECT attnum FROM pg_attribute WHERE attrelid = {T} AND attname = "
             f"{literal(old)} AND NOT attisdropped)")  # fmt: skip
    n_num = (f"(SELECT attnum FROM pg_attribute WHERE attrelid = {T} AND attname = "
             f"{literal(new)} AND NOT attisdropped)")  # fmt: skip
    ignored = ", ".join(literal(n) for n in ignore_checks) or "NULL"
    where = f"{t}.{old}"
    return Verify(
        f"nothing attached to {where} would be lost when contract drops it (recreate each "
        f"on {new}, or drop it, then verify again)",
        f"SELECT 'view ' || v.oid::regclass::text || {literal(f' uses {where}')} AS object "
        "FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass "
        "AND d.objid = r.oid JOIN pg_class v ON v.oid = r.ev_class "
        f"WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = {T} "
        f"AND d.refobjsubid = {o_num} AND v.oid <> {T}\n"
        "UNION\n"
        "SELECT 'foreign key ' || quote_ident(c.conname) || ' on ' || c.conrelid::regclass::text "
        f"|| {literal(f' references {where}')} FROM pg_constraint c WHERE c.contype = 'f' "
        f"AND c.confrelid = {T} AND {o_num} = ANY (c.confkey) AND NOT EXISTS ("
        "SELECT 1 FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = c.conrelid "
        f"AND k.confrelid = {T} AND {n_num} = ANY (k.confkey))\n"
        "UNION\n"
        "SELECT CASE c.contype WHEN 'f' THEN 'foreign key ' ELSE 'check constraint ' END "
        f"|| quote_ident(c.conname) || {literal(f' on {where}')} FROM pg_constraint c "
        f"WHERE c.conrelid = {T} AND c.contype IN ('f', 'c') AND {o_num} = ANY (c.conkey) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.conrelid "
        f"AND k.contype = c.contype AND k.oid <> c.oid AND {n_num} = ANY (k.conkey) "
        f"AND k.conname NOT IN ({ignored}))",
    )


def mysql_dependents_verify(t: TableName, old: str, new: str) -> Verify:
    """Verify (MySQL/MariaDB): views using ``old``, foreign keys referencing it, its own
    FOREIGN KEY and CHECK constraints, and indexes holding it (DROP COLUMN narrows a
    composite unique index) that have no counterpart on ``new``."""
    db, name = mysql_db(t), literal(t.name, "mysql")
    o, n = literal(old, "mysql"), literal(new, "mysql")
    where = f"{t}.{old}"
    used = literal(f"`{t.name}`.`{old}`", "mysql")
    return Verify(
        f"nothing attached to {where} would be lost when contract drops it (recreate each "
        f"on {new}, or drop it, then verify again)",
        f"SELECT CONCAT('view ', TABLE_NAME, {literal(f' uses {where}', 'mysql')}) AS object "
        f"FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {db} "
        f"AND LOCATE({used}, VIEW_DEFINITION) > 0\n"
        "UNION\n"
        "SELECT CONCAT('foreign key ', CONSTRAINT_NAME, ' on ', TABLE_NAME, "
        f"{literal(f' references {where}', 'mysql')}) FROM information_schema.KEY_COLUMN_USAGE "
        f"WHERE REFERENCED_TABLE_SCHEMA = {db} AND REFERENCED_TABLE_NAME = {name} "
        f"AND REFERENCED_COLUMN_NAME = {o}\n"
        "UNION\n"
        "SELECT CONCAT('foreign key ', k.CONSTRAINT_NAME, "
        f"{literal(f' on {where}', 'mysql')}) FROM information_schema.KEY_COLUMN_USAGE k "
        f"WHERE k.TABLE_SCHEMA = {db} AND k.TABLE_NAME = {name} AND k.COLUMN_NAME = {o} "
        "AND k.REFERENCED_TABLE_NAME IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        f"information_schema.KEY_COLUMN_USAGE j WHERE j.TABLE_SCHEMA = {db} AND "
        f"j.TABLE_NAME = {name} AND j.COLUMN_NAME = {n} AND j.REFERENCED_TABLE_NAME IS NOT NULL)\n"
        "UNION\n"
        "SELECT CONCAT('check constraint ', c.CONSTRAINT_NAME, "
        f"{literal(f' on {where}', 'mysql')}) FROM information_schema.TABLE_CONSTRAINTS tc "
        f"JOIN information_schema.CHECK_CONSTRAINTS c ON c.CONSTRAINT_SCHEMA = {db} "
        "AND BINARY c.CONSTRAINT_NAME = BINARY tc.CONSTRAINT_NAME "
        f"WHERE tc.CONSTRAINT_TYPE = 'CHECK' AND tc.TABLE_SCHEMA = {db} AND tc.TABLE_NAME = {name} "
        f"AND LOCATE({literal(f'`{old}`', 'mysql')}, c.CHECK_CLAUSE) > 0 "
        f"AND LOCATE({literal(f'`{new}`', 'mysql')}, c.CHECK_CLAUSE) = 0\n"
        "UNION\n"
        "SELECT CONCAT(IF(s.NON_UNIQUE = 0, 'unique index ', 'index '), s.INDEX_NAME, "
        f"{literal(f' on {where}', 'mysql')}) FROM information_schema.STATISTICS s "
        f"WHERE s.TABLE_SCHEMA = {db} AND s.TABLE_NAME = {name} AND s.COLUMN_NAME = {o} "
        "AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS j WHERE "
        f"j.TABLE_SCHEMA = {db} AND j.TABLE_NAME = {name} "
        f"AND j.COLUMN_NAME = {n} AND j.NON_UNIQUE <= s.NON_UNIQUE)",
    )


def pg_carry_steps(t: TableName, old: str, new: str, check: str) -> list[Step]:
    """Verify that nothing attached to ``old`` is lost when contract drops it (a rename's
    old column, a type change's column swapped out): its indexes, and its views, foreign
    keys and constraints (``check``: the migration's own NOT NULL check, ignored)."""
    return [
        Step(
            Phase.VERIFY,
            f"indexes on {old} have a counterpart on {new}",
            verify=pg_index_carry_verify(t, old, new),
            why=f"dropping {old} drops its indexes and unique constraints with it: build "
            f"them on {new} first (CREATE INDEX CONCURRENTLY in this migration)",
        ),
        Step(
            Phase.VERIFY,
            f"views, foreign keys and constraints on {old} have a counterpart on {new}",
            verify=pg_dependents_verify(t, old, new, ignore_checks=(check,)),
            why=f"dropping {old} drops its constraints with it, and fails on a view or a "
            "foreign key of another table that uses it",
        ),
    ]
