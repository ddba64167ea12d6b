"""The sync trigger the strategies install at expand, and identifier helpers (PostgreSQL).

While the old app version writes the old column and the new version writes the new one,
a row trigger keeps the two equal, so the backfill only has to fix the rows that existed
before expand and every row any app writes meanwhile is right the moment it is written
(docs/design.md §3). :func:`sync_trigger_sql` returns the statements that create it (expand) and
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
``schemashift.backfill`` to this trigger's name for their transaction and the ``WHEN``
clause checks it. The trigger would only copy the value back where it came from, at the
price of a plpgsql call per row (measured: +60-100% on the UPDATE). Only its own
migration's batches: another migration's backfill of the same table sets another name, so
this trigger still keeps its columns equal on the rows that backfill changes.

The copy is an identity (with plpgsql's assignment cast, e.g. ``int`` → ``bigint``): the
backfill that goes with it is ``SET new = old WHERE new IS DISTINCT FROM old``. A
transforming change needs a trigger that applies the same transformation.
"""

from __future__ import annotations

import hashlib

from schemashift.sqltext import names

PG_MAX_IDENTIFIER = 63
# Set on the backfill's own session (for its batches) to the name of the update trigger of
# their migration: that trigger, and only that one, stays out of them.
BACKFILL_SETTING = "schemashift.backfill"

def split_name(name: str) -> tuple[str, ...]:
    """A possibly qualified SQL name as the catalog spells it: ``Public.Users`` →
    ``("public", "users")``, ``"My Schema"."T"`` → ``("My Schema", "T")``. Raises
    ValueError on anything that is not a name (so it cannot smuggle SQL in)."""
    return names.split_name(name, "postgres")


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier: bare when that reads the same, else double-quoted."""
    return names.quote_ident(name, "postgres")


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
    wrote = _wrote_setting(upd)
    update_body = (
        "BEGIN\n"
        "    -- schemashift sync trigger (UPDATE): copy the column the app changed.\n"
        f"    IF NEW.{w} IS DISTINCT FROM OLD.{w} THEN\n"
        f"        NEW.{o} := NEW.{w};  -- the new app (or both changed: keep them equal)\n"
        f"    ELSIF current_setting('{wrote}', true) = 'on' THEN\n"
        f"        NEW.{o} := NEW.{w};  -- the new app wrote the new column, its value unchanged\n"
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
    # Whether the statement names the new column in its SET list, which a row trigger
    # cannot see: `SET new = NULL` on a row the backfill has not reached looks like an
    # update of other columns (both leave new NULL). A statement-level trigger ``UPDATE
    # OF new`` flags the statement (transaction-local); one after every UPDATE clears it.
    flag_on = ("BEGIN\n"
               f"    PERFORM set_config('{wrote}', 'on', true);\n"
               "    RETURN NULL;\n"
               "END")  # fmt: skip
    flag_off = ("BEGIN\n"
                f"    PERFORM set_config('{wrote}', '', true);\n"
                "    RETURN NULL;\n"
                "END")  # fmt: skip
    on, off = short_name(upd + "_on"), short_name(upd + "_off")
    on_fn, off_fn = quote_name((*schema, on)), quote_name((*schema, off))
    update_when = (
        f"(NEW.{o} IS DISTINCT FROM OLD.{o} OR NEW.{w} IS DISTINCT FROM OLD.{w} "
        f"OR NEW.{w} IS NULL OR NEW.{o} IS NULL) "
        # skips only the batches of its own migration's backfill (they set its name)
        f"AND current_setting('{BACKFILL_SETTING}', true) IS DISTINCT FROM {_literal(upd)}"
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
        _function(on_fn, flag_on),
        _function(off_fn, flag_off),
        f"DROP TRIGGER IF EXISTS {quote_ident(on)} ON {qtable}",
        f"CREATE TRIGGER {quote_ident(on)} BEFORE UPDATE OF {w} ON {qtable} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {on_fn}()",
        f"DROP TRIGGER IF EXISTS {quote_ident(off)} ON {qtable}",
        f"CREATE TRIGGER {quote_ident(off)} AFTER UPDATE ON {qtable} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {off_fn}()",
    ]
    drop = [
        f"DROP TRIGGER IF EXISTS {quote_ident(ins)} ON {qtable}",
        f"DROP TRIGGER IF EXISTS {quote_ident(upd)} ON {qtable}",
        f"DROP TRIGGER IF EXISTS {quote_ident(on)} ON {qtable}",
        f"DROP TRIGGER IF EXISTS {quote_ident(off)} ON {qtable}",
        f"DROP FUNCTION IF EXISTS {ins_fn}()",
        f"DROP FUNCTION IF EXISTS {upd_fn}()",
        f"DROP FUNCTION IF EXISTS {on_fn}()",
        f"DROP FUNCTION IF EXISTS {off_fn}()",
    ]
    return create, drop


def _wrote_setting(upd: str) -> str:
    """The transaction-local setting that says "this UPDATE names the new column"."""
    return "schemashift.wrote_" + hashlib.sha1(upd.encode()).hexdigest()[:12]


def _column(name: str) -> str:
    parts = split_name(name)
    if len(parts) != 1:
        raise ValueError(f"expected a column name, got {name!r}")
    return parts[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _function(name: str, body: str) -> str:
    tag = "$schemashift$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
        f"AS {tag}\n{body}\n{tag}"
    )
