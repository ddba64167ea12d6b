"""The sync trigger the strategies install at expand, and identifier helpers (PostgreSQL).

While the old app version writes the old column and the new version writes the new one,
a row trigger keeps the two equal, so the backfill only has to fix the rows that existed
before expand and every row any app writes meanwhile is right the moment it is written
(DESIGN §3). :func:`sync_trigger_sql` returns the statements that create it (expand) and
the ones that drop it (contract and rollback).

What it does, ``old`` → ``new`` (and the same the other way round):

- ``INSERT``: ``new`` is NULL (the old app, which does not know it): ``new := old``;
  otherwise ``old := new`` - the new app set it, and ``old`` holds NULL or its DEFAULT
  (a BEFORE trigger cannot tell a default from a value written, so the new column wins);
- ``UPDATE``: the app changed ``new``: ``old := new`` (also when it changed both: the
  columns stay equal, which is what verify checks); it changed only ``old``: ``new :=
  old``; it changed neither and one is NULL (a row the backfill has not reached yet): fill
  it from the other.

So the new column must have no DEFAULT while the trigger is installed (an old-app insert
would otherwise get the new column's default copied over its own value): expand adds it
bare and contract carries the old column's default over, as the rename strategy does. The
old column may keep its DEFAULT and NOT NULL: the BEFORE trigger fills it before the
constraint is checked.

Speed (benchmarks/backfill.py): two triggers, one per event; the update trigger has a
``WHEN`` clause, so the plpgsql function is not even called for the common case of an
update that leaves both columns alone on a row already in sync. The bodies are a few
branches with no ``TG_OP`` test, no dynamic SQL and no catalog lookup.

The backfill's own updates (``SET new = old``) skip the update trigger: its batches set
``schemashift.backfill = on`` for their transaction and the ``WHEN`` clause checks it. The
trigger would only copy the value back where it came from, at the price of a plpgsql call
per row (measured: +60-100% on the UPDATE).

The copy is an identity (with plpgsql's assignment cast, e.g. ``int`` → ``bigint``): the
backfill that goes with it is ``SET new = old WHERE new IS DISTINCT FROM old``. A
transforming change needs a trigger that applies the same transformation.
"""

from __future__ import annotations

import hashlib
import re

PG_MAX_IDENTIFIER = 63
# Set (transaction-local) by the backfill's batches: the update trigger stays out of them.
BACKFILL_SETTING = "schemashift.backfill"

_UNQUOTED = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")

# Key words that cannot be used as a bare column or table name in every position
# (PostgreSQL's "reserved" and "reserved (can be function or type)" key words, plus the
# column-name key words that are also type or function names).
_RESERVED = frozenset(
    """
all analyse analyze and any array as asc asymmetric authorization between bigint binary bit
boolean both case cast char character check coalesce collate collation column concurrently
constraint create cross current_catalog current_date current_role current_schema
current_time current_timestamp current_user dec decimal default deferrable desc distinct do
else end except exists extract false fetch float for foreign freeze from full grant greatest
group grouping having ilike in initially inner inout int integer intersect interval into is
isnull join lateral leading least left like limit localtime localtimestamp national natural
nchar none normalize not notnull null nullif numeric offset on only or order out outer
overlaps overlay placing position precision primary real references returning right row
select session_user setof similar smallint some substring symmetric system_user table
tablesample then time timestamp to trailing treat trim true union unique user using values
varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists
xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
""".split()  # noqa: SIM905
)


def split_name(name: str) -> tuple[str, ...]:
    """A possibly qualified SQL name as the catalog spells it: ``Public.Users`` →
    ``("public", "users")``, ``"My Schema"."T"`` → ``("My Schema", "T")``.

    Unquoted parts fold to lower case and quoted parts are taken verbatim, as PostgreSQL
    does. Raises ValueError on anything that is not a name (so it cannot smuggle SQL in).
    """
    parts: list[str] = []
    i, n = 0, len(name)
    while True:
        while i < n and name[i].isspace():
            i += 1
        if i < n and name[i] == '"':
            j, buf = i + 1, []
            while True:
                k = name.find('"', j)
                if k < 0:
                    raise ValueError(f"unterminated quoted identifier in {name!r}")
                buf.append(name[j:k])
                if name.startswith('"', k + 1):  # "" is an escaped quote
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            part = "".join(buf)
            if not part:
                raise ValueError(f"empty quoted identifier in {name!r}")
            parts.append(part)
        else:
            m = _UNQUOTED.match(name, i)
            if m is None:
                raise ValueError(f"not a SQL name: {name!r}")
            parts.append(m.group().lower())
            i = m.end()
        while i < n and name[i].isspace():
            i += 1
        if i == n:
            break
        if name[i] != ".":
            raise ValueError(f"not a SQL name: {name!r}")
        i += 1
    if len(parts) > 3:
        raise ValueError(f"too many dots in SQL name {name!r}")
    return tuple(parts)


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier: bare when that reads the same, else double-quoted."""
    if _PLAIN.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_name(parts: tuple[str, ...]) -> str:
    return ".".join(quote_ident(p) for p in parts)


def short_name(name: str) -> str:
    """``name`` within PostgreSQL's 63 bytes: a longer one keeps a prefix and gets a hash,
    so two long names never collide after truncation (same rule as schemashift.alembic.ops)."""
    if len(name.encode()) <= PG_MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[: PG_MAX_IDENTIFIER - 9].decode(errors="ignore") + "_" + digest


def sync_trigger_names(table: str, old: str, new: str) -> tuple[str, str]:
    """(insert trigger, update trigger) names; the functions have the same names, in the
    table's schema."""
    base = f"schemashift_sync_{split_name(table)[-1]}_{_column(old)}_{_column(new)}"
    return short_name(base + "_ins"), short_name(base + "_upd")


def sync_trigger_sql(table: str, old: str, new: str) -> tuple[list[str], list[str]]:
    """``(create, drop)``: the statements that install the trigger keeping ``old`` and
    ``new`` of ``table`` equal in both directions, and those that remove it.

    ``table`` may be schema-qualified; names follow SQL rules (see :func:`split_name`).
    The create list is idempotent (``CREATE OR REPLACE FUNCTION``, ``DROP TRIGGER IF
    EXISTS`` before ``CREATE TRIGGER``) and belongs in one transaction, under a
    ``lock_timeout``; the drop list uses ``IF EXISTS`` throughout.
    """
    table_parts = split_name(table)
    o, w = quote_ident(_column(old)), quote_ident(_column(new))
    if o == w:
        raise ValueError(f"sync trigger needs two different columns, got {old!r} twice")
    schema = table_parts[:-1]
    qtable = quote_name(table_parts)
    ins, upd = sync_trigger_names(table, old, new)
    ins_fn, upd_fn = quote_name((*schema, ins)), quote_name((*schema, upd))

    insert_body = (
        "BEGIN\n"
        "    -- schemashift sync trigger (INSERT): the new column wins unless it is NULL\n"
        "    -- (the old one may hold its DEFAULT: a trigger cannot tell it from a value).\n"
        f"    IF NEW.{w} IS NULL THEN\n"
        f"        NEW.{w} := NEW.{o};\n"
        "    ELSE\n"
        f"        NEW.{o} := NEW.{w};\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END"
    )
    update_body = (
        "BEGIN\n"
        "    -- schemashift sync trigger (UPDATE): copy the column the app changed.\n"
        f"    IF NEW.{w} IS DISTINCT FROM OLD.{w} THEN\n"
        f"        NEW.{o} := NEW.{w};  -- the new app (or both changed: keep them equal)\n"
        f"    ELSIF NEW.{o} IS DISTINCT FROM OLD.{o} THEN\n"
        f"        NEW.{w} := NEW.{o};  -- the old app\n"
        f"    ELSIF NEW.{w} IS NULL THEN\n"
        f"        NEW.{w} := NEW.{o};  -- a row the backfill has not reached yet\n"
        f"    ELSIF NEW.{o} IS NULL THEN\n"
        f"        NEW.{o} := NEW.{w};\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END"
    )
    update_when = (
        f"(NEW.{o} IS DISTINCT FROM OLD.{o} OR NEW.{w} IS DISTINCT FROM OLD.{w} "
        f"OR NEW.{w} IS NULL OR NEW.{o} IS NULL) "
        f"AND current_setting('{BACKFILL_SETTING}', true) IS DISTINCT FROM 'on'"
    )
    create = [
        _function(ins_fn, insert_body),
        _function(upd_fn, update_body),
        f"DROP TRIGGER IF EXISTS {quote_ident(ins)} ON {qtable}",
        f"CREATE TRIGGER {quote_ident(ins)} BEFORE INSERT ON {qtable} FOR EACH ROW "
        f"EXECUTE FUNCTION {ins_fn}()",
        f"DROP TRIGGER IF EXISTS {quote_ident(upd)} ON {qtable}",
        f"CREATE TRIGGER {quote_ident(upd)} BEFORE UPDATE ON {qtable} FOR EACH ROW "
        f"WHEN ({update_when}) EXECUTE FUNCTION {upd_fn}()",
    ]
    drop = [
        f"DROP TRIGGER IF EXISTS {quote_ident(ins)} ON {qtable}",
        f"DROP TRIGGER IF EXISTS {quote_ident(upd)} ON {qtable}",
        f"DROP FUNCTION IF EXISTS {ins_fn}()",
        f"DROP FUNCTION IF EXISTS {upd_fn}()",
    ]
    return create, drop


def _column(name: str) -> str:
    parts = split_name(name)
    if len(parts) != 1:
        raise ValueError(f"expected a column name, got {name!r}")
    return parts[0]


def _function(name: str, body: str) -> str:
    tag = "$schemashift$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
        f"AS {tag}\n{body}\n{tag}"
    )
