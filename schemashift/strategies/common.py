"""What several strategies share: quoting, generated names, run-time placeholders, and the
catalog-reading SQL that carries a column's properties (NOT NULL, default, sequence,
identity) from an old column to its replacement.

Pure text building: nothing here talks to a database. Placeholders (``{type:t.c}``,
``{pk:t}``) are resolved by the executor against the live catalog (see
``schemashift.phases.model``), because a migration file does not say a column's type or a
table's key.
"""

from __future__ import annotations

import hashlib
import re

from schemashift.execute import triggers
from schemashift.model import Phase
from schemashift.phases.model import Step, Verify

MAX_IDENTIFIER = {"postgres": 63, "mysql": 64}
# Marker prepended to a column comment by drop_column's expand, so rollback knows the column
# was NOT NULL before (the plan is static; the database is the only place to remember it).
WAS_NOT_NULL = "schemashift:was-not-null;"


class StrategyError(ValueError):
    """The statement cannot be planned by this strategy (the planner reports it)."""


# --------------------------------------------------------------------------- quoting


def quote(name: str, dialect: str) -> str:
    """An identifier as SQL: backticks on MySQL, double quotes on PostgreSQL when needed."""
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return triggers.quote_ident(name)


def split_table(table: str) -> tuple[str | None, str]:
    """``"app.users"`` → ``("app", "users")``; ``"users"`` → ``(None, "users")``."""
    if "." in table:
        schema, name = table.rsplit(".", 1)
        return schema, name
    return None, table


def bare(table: str) -> str:
    return split_table(table)[1]


def quote_table(table: str, dialect: str) -> str:
    schema, name = split_table(table)
    return (
        quote(name, dialect)
        if schema is None
        else f"{quote(schema, dialect)}.{quote(name, dialect)}"
    )


def in_schema_of(table: str, name: str, dialect: str) -> str:
    """``name`` (an index, function or view) quoted in ``table``'s schema."""
    schema, _ = split_table(table)
    return (
        quote(name, dialect)
        if schema is None
        else f"{quote(schema, dialect)}.{quote(name, dialect)}"
    )


def literal(text: str, dialect: str = "postgres") -> str:
    """A SQL string literal. MySQL's default sql_mode also treats backslash as an escape."""
    body = text.replace("'", "''")
    if dialect == "mysql":
        body = body.replace("\\", "\\\\")
    return f"'{body}'"


def regclass(table: str) -> str:
    """``'users'::regclass``: the table's oid, as catalog queries need it."""
    return f"{literal(quote_table(table, 'postgres'))}::regclass"


def short_name(name: str, dialect: str = "postgres") -> str:
    """``name`` within the dialect's identifier limit; a longer one keeps a prefix and gets a
    hash, so two long names never collide after truncation."""
    if dialect != "mysql":
        return triggers.short_name(name)
    if len(name.encode()) <= MAX_IDENTIFIER["mysql"]:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[: MAX_IDENTIFIER["mysql"] - 9].decode(errors="ignore") + "_" + digest


def shadow_name(column: str, dialect: str = "postgres") -> str:
    """The internal column that takes ``column``'s place at contract (type changes)."""
    return short_name(f"_ss_new_{column}", dialect)


def not_null_check_name(table: str, column: str) -> str:
    """The CHECK (c IS NOT NULL) used on the way to SET NOT NULL (same name Alembic's split
    gives it, so a plan and a generated revision agree)."""
    return short_name(f"ck_{bare(table)}_{column}_not_null")


# --------------------------------------------------------------------------- placeholders


def type_of(table: str, column: str) -> str:
    """Run-time placeholder: the column's current type."""
    return f"{{type:{table}.{column}}}"


def pk_of(table: str) -> str:
    """Run-time placeholder: the table's primary-key column."""
    return f"{{pk:{table}}}"


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
        r"'(?:[^']|'')*'|" + rf'(?<![\w."]){re.escape(column)}(?![\w"])|"{re.escape(column)}"',
        re.IGNORECASE,
    )
    return pattern.sub(lambda m: m.group(0) if m.group(0)[0] == "'" else replacement, expr)


# --------------------------------------------------------------------------- PostgreSQL


def do_block(body: str) -> str:
    """A PL/pgSQL ``DO`` block: for steps that depend on what the catalog says at run time."""
    return f"DO $schemashift$\n{body.rstrip()}\n$schemashift$"


def attnum(table: str, column: str) -> str:
    return (
        f"(SELECT attnum FROM pg_attribute WHERE attrelid = {regclass(table)} "
        f"AND attname = {literal(column)} AND NOT attisdropped)"
    )


def pg_index_valid_verify(table: str, index: str) -> Verify:
    """Returns the index name when it is missing or INVALID (a failed CONCURRENTLY build)."""
    schema = split_table(table)[0] or "public"
    return Verify(
        f"index {index} exists and is valid (an INVALID one is left by a failed build: "
        "roll back and expand again)",
        f"SELECT {literal(index)} AS index_name WHERE NOT EXISTS ("
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relname = {literal(index)} AND n.nspname = {literal(schema)} "
        "AND i.indisvalid)",
    )


def pg_not_null_check_if(table: str, old: str, new: str, check: str) -> str:
    """Expand: when ``old`` is NOT NULL, require ``new`` to be too - NOT VALID, so only new
    writes are checked (the sync trigger fills ``new`` on every write)."""
    return do_block(
        "BEGIN\n"
        f"    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {regclass(table)}\n"
        f"               AND attname = {literal(old)} AND attnotnull)\n"
        f"       AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {regclass(table)}\n"
        f"                       AND conname = {literal(check)}) THEN\n"
        f"        ALTER TABLE {quote_table(table, 'postgres')} ADD CONSTRAINT "
        f"{quote(check, 'postgres')} CHECK ({quote(new, 'postgres')} IS NOT NULL) NOT VALID;\n"
        "    END IF;\n"
        "END"
    )


def pg_validate_if_present(table: str, check: str) -> str:
    """Verify: VALIDATE the constraint when the expand added it (SHARE UPDATE EXCLUSIVE)."""
    return do_block(
        "BEGIN\n"
        f"    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {regclass(table)}\n"
        f"               AND conname = {literal(check)} AND NOT convalidated) THEN\n"
        f"        ALTER TABLE {quote_table(table, 'postgres')} VALIDATE CONSTRAINT "
        f"{quote(check, 'postgres')};\n"
        "    END IF;\n"
        "END"
    )


def pg_carry_column(
    table: str, old: str, new: str, check: str, *, widen_sequence: bool = False
) -> str:
    """Contract: give ``new`` what ``old`` had - NOT NULL (through the validated CHECK, so
    no scan), its default, its serial sequence (ownership moves, or the drop of ``old`` would
    take the sequence with it) or its identity (continuing from the last value).

    ``widen_sequence``: a serial's sequence becomes ``AS bigint`` (int → bigint keys).
    """
    t = quote_table(table, "postgres")
    n = quote(new, "postgres")
    o = quote(old, "postgres")
    widen = (
        "        IF seq IS NOT NULL THEN\n"
        "            EXECUTE format('ALTER SEQUENCE %s AS bigint', seq);\n"
        "        END IF;\n"
        if widen_sequence
        else ""
    )
    return do_block(
        "DECLARE\n"
        "    d text;\n"
        '    ident "char";\n'
        "    seq text;\n"
        "    last bigint;\n"
        "BEGIN\n"
        "    SELECT pg_get_expr(ad.adbin, ad.adrelid), a.attidentity INTO d, ident\n"
        "      FROM pg_attribute a\n"
        "      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum\n"
        f"     WHERE a.attrelid = {regclass(table)} AND a.attname = {literal(old)};\n"
        f"    seq := pg_get_serial_sequence({literal(t)}, {literal(old)});\n"
        f"    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {regclass(table)}\n"
        f"               AND conname = {literal(check)}) THEN\n"
        f"        ALTER TABLE {t} ALTER COLUMN {n} SET NOT NULL;\n"
        f"        ALTER TABLE {t} DROP CONSTRAINT {quote(check, 'postgres')};\n"
        "    END IF;\n"
        "    IF ident IN ('a', 'd') THEN\n"
        "        last := pg_sequence_last_value(seq::regclass);\n"
        f"        ALTER TABLE {t} ALTER COLUMN {o} DROP IDENTITY;\n"
        "        EXECUTE format("
        f"{literal(f'ALTER TABLE {t} ALTER COLUMN {n} ADD GENERATED %s AS IDENTITY (START WITH %s)')},\n"
        "                       CASE ident WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END,\n"
        "                       coalesce(last, 0) + 1);\n"
        "    ELSE\n"
        "        IF seq IS NOT NULL THEN\n"
        f"            EXECUTE format({literal(f'ALTER SEQUENCE %s OWNED BY {t}.{n}')}, seq);\n"
        "        END IF;\n"
        f"{widen}"
        "        IF d IS NOT NULL THEN\n"
        f"            EXECUTE format({literal(f'ALTER TABLE {t} ALTER COLUMN {n} SET DEFAULT %s')}, d);\n"
        "        END IF;\n"
        "    END IF;\n"
        "END"
    )


def pg_index_carry_verify(table: str, old: str, new: str, *, skip_primary: bool = False) -> Verify:
    """Indexes (and so unique and primary-key constraints) on ``old`` vanish with it at
    contract: list those with no index on ``new`` to take their place."""
    primary = " AND NOT i.indisprimary" if skip_primary else ""
    return Verify(
        f"every index on {old} has a counterpart on {new} (dropping {old} drops its "
        f"indexes: create them on {new} first, CONCURRENTLY)",
        "SELECT i.indexrelid::regclass::text AS index_name FROM pg_index i "
        f"WHERE i.indrelid = {regclass(table)}{primary} "
        f"AND {attnum(table, old)} = ANY (i.indkey) "
        "AND NOT EXISTS (SELECT 1 FROM pg_index j WHERE j.indrelid = i.indrelid "
        f"AND {attnum(table, new)} = ANY (j.indkey))",
    )


def pg_not_null_steps(table: str, column: str, *, why: str) -> list[Step]:
    """Verify no NULLs, then contract: CHECK … NOT VALID → VALIDATE (its own transaction) →
    SET NOT NULL (no scan on 12+, thanks to the valid CHECK) → DROP CHECK."""
    t = quote_table(table, "postgres")
    c = quote(column, "postgres")
    check = not_null_check_name(table, column)
    ck = quote(check, "postgres")
    return [
        Step(
            Phase.VERIFY,
            f"no NULL left in {table}.{column}",
            verify=Verify(
                f"{table}.{column} has no NULL", f"SELECT {pk_of(table)} FROM {t} WHERE {c} IS NULL"
            ),
            why=f"SET NOT NULL at contract fails on any NULL row ({why})",
        ),
        Step(
            Phase.CONTRACT,
            f"add CHECK ({column} IS NOT NULL) NOT VALID",
            sql=(
                f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {ck}",
                f"ALTER TABLE {t} ADD CONSTRAINT {ck} CHECK ({c} IS NOT NULL) NOT VALID",
            ),
            why="a brief ACCESS EXCLUSIVE lock, no scan: enforced for new writes only",
        ),
        Step(
            Phase.CONTRACT,
            f"validate {check}",
            sql=(f"ALTER TABLE {t} VALIDATE CONSTRAINT {ck}",),
            concurrent=True,
            why="scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), in its own "
            "transaction",
        ),
        Step(
            Phase.CONTRACT,
            f"set {table}.{column} NOT NULL and drop {check}",
            sql=(
                f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL",
                f"ALTER TABLE {t} DROP CONSTRAINT {ck}",
            ),
            why="PostgreSQL 12+ skips the scan thanks to the valid CHECK, which is then redundant",
        ),
    ]


# --------------------------------------------------------------------------- MySQL / MariaDB


def mysql_info_where(table: str, column: str) -> str:
    """The information_schema.COLUMNS row of ``table.column`` (current database unless the
    table is qualified)."""
    schema, name = split_table(table)
    db = "DATABASE()" if schema is None else literal(schema, "mysql")
    return (
        f"TABLE_SCHEMA = {db} AND TABLE_NAME = {literal(name, 'mysql')} "
        f"AND COLUMN_NAME = {literal(column, 'mysql')}"
    )


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


def mysql_locked(table: str, statements: tuple[str, ...]) -> tuple[str, ...]:
    """Statements run under ``LOCK TABLES … WRITE``: MySQL has no transactional DDL, and a
    trigger swap must not let a write slip between dropping a trigger and the ALTER that
    makes it unnecessary. Keep them metadata-only: the lock blocks reads and writes."""
    return (f"LOCK TABLES {quote_table(table, 'mysql')} WRITE", *statements, "UNLOCK TABLES")


def mysql_dynamic(select_sql: str) -> tuple[str, ...]:
    """Run the statement ``select_sql`` computes from the catalog (``DO 0`` when it computes
    nothing): how a static plan acts on what the live schema says, without procedures."""
    return (
        f"SET @schemashift_sql := COALESCE(({select_sql}), 'DO 0')",
        "PREPARE schemashift_stmt FROM @schemashift_sql",
        "EXECUTE schemashift_stmt",
        "DEALLOCATE PREPARE schemashift_stmt",
    )


def mysql_drop_column_if_exists(table: str, column: str) -> tuple[str, ...]:
    """``DROP COLUMN`` that is a no-op when the column is missing (MySQL 8 has no IF EXISTS
    there): rollbacks must work after an expand that stopped half way."""
    drop = f"ALTER TABLE {quote_table(table, 'mysql')} DROP COLUMN {quote(column, 'mysql')}"
    return mysql_dynamic(
        f"SELECT {literal(drop, 'mysql')} FROM information_schema.COLUMNS "
        f"WHERE {mysql_info_where(table, column)}"
    )


def mysql_drop_index_if_exists(table: str, index: str) -> tuple[str, ...]:
    schema, name = split_table(table)
    db = "DATABASE()" if schema is None else literal(schema, "mysql")
    drop = f"ALTER TABLE {quote_table(table, 'mysql')} DROP INDEX {quote(index, 'mysql')}"
    return mysql_dynamic(
        f"SELECT {literal(drop, 'mysql')} FROM information_schema.STATISTICS "
        f"WHERE TABLE_SCHEMA = {db} AND TABLE_NAME = {literal(name, 'mysql')} "
        f"AND INDEX_NAME = {literal(index, 'mysql')} LIMIT 1"
    )
