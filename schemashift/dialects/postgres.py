"""PostgreSQL facts: the lock each statement takes, when it rewrites or scans, version gates.

Every lock and rewrite fact here is checked against a real server in
``tests/db/test_postgres_lock_facts.py`` (``pg_locks`` while the statement's transaction
is open; ``pg_class.relfilenode`` before and after for rewrites).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from schemashift.dialects.base import (
    BREAKING,
    COMPATIBLE,
    FUNCTION_CALL,
    STRING_LITERAL,
    UNKNOWN_PRICE,
    Price,
    to_change,
)
from schemashift.model import Change, Compatibility, LockClass, Phase

if TYPE_CHECKING:
    from schemashift.analysis.file_state import FileState
    from schemashift.sql.actions import Action, ColumnDef

AE = "ACCESS EXCLUSIVE"
EXCLUSIVE = "EXCLUSIVE"
SRE = "SHARE ROW EXCLUSIVE"
SH = "SHARE"
SUE = "SHARE UPDATE EXCLUSIVE"
RE = "ROW EXCLUSIVE"
NONE = "none"

LOCK_CLASS = {
    AE: LockClass.BLOCKS_READS_AND_WRITES,
    EXCLUSIVE: LockClass.BLOCKS_WRITES,
    SRE: LockClass.BLOCKS_WRITES,
    SH: LockClass.BLOCKS_WRITES,
    SUE: LockClass.NONE,
    RE: LockClass.NONE,
    "ROW SHARE": LockClass.NONE,
    "ACCESS SHARE": LockClass.NONE,
    NONE: LockClass.NONE,
    "unknown": LockClass.BLOCKS_READS_AND_WRITES,
}

# Functions whose value is fixed for the statement (STABLE or IMMUTABLE): a DEFAULT built
# only from these is evaluated once, so ADD COLUMN stays metadata-only on PostgreSQL 11+.
NON_VOLATILE_FUNCTIONS = frozenset(
    {
        "now", "current_timestamp", "current_date", "current_time", "localtimestamp",
        "localtime", "transaction_timestamp", "statement_timestamp", "current_user",
        "current_schema", "session_user", "lower", "upper", "length", "coalesce", "nullif",
        "greatest", "least", "concat", "to_char", "to_timestamp", "to_date", "make_interval",
        "date_trunc", "jsonb_build_object", "json_build_object", "jsonb_build_array",
        "json_build_array", "array", "row", "cast", "abs", "round", "trunc", "md5",
        "timezone", "interval", "inet", "point", "int4range", "tstzrange", "daterange",
    }
)  # fmt: skip
# Known volatile: each row would get its own value, so the table must be rewritten.
VOLATILE_FUNCTIONS = frozenset(
    {
        "random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
        "uuid_generate_v4", "uuidv4", "uuidv7", "clock_timestamp", "timeofday", "nextval",
        "setseed", "gen_random_bytes", "txid_current", "pg_current_xact_id",
    }
)  # fmt: skip
SERIAL_TYPES = frozenset({"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"})

_INT_DIGITS = {2: 5, 4: 10, 8: 19}  # decimal digits of smallint, integer, bigint
_INT_RANK = {"smallint": 2, "int2": 2, "integer": 4, "int": 4, "int4": 4, "bigint": 8, "int8": 8}
_VARCHAR = re.compile(r"(?:varchar|character varying)(?:\((\d+)\))?$")
_CHAR = re.compile(r"(?:char|character|bpchar)\((\d+)\)$")
_NUMERIC = re.compile(r"(?:numeric|decimal)(?:\((\d+)(?:,(\d+))?\))?$")
# Target types no older type can be narrower than (a change to these never narrows).
_WIDE_TYPES = frozenset({"bigint", "int8", "text", "varchar", "character varying"})


def default_is_volatile(expr: str | None) -> bool:
    """True when a DEFAULT must be computed per row (unknown functions count as volatile)."""
    if not expr:
        return False
    for name in FUNCTION_CALL.findall(STRING_LITERAL.sub("''", expr)):
        fn = name.lower().rsplit(".", 1)[-1]
        if fn in VOLATILE_FUNCTIONS or fn not in NON_VOLATILE_FUNCTIONS:
            return True
    return False


def _canonical_type(t: str) -> str:
    t = t.strip().lower()
    return {
        "int4": "integer", "int": "integer", "int8": "bigint", "int2": "smallint",
        "character varying": "varchar", "bool": "boolean", "float8": "double precision",
        "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
        "decimal": "numeric",
        # serial types are integers with a sequence default: the column's type is the integer
        "serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint",
        "smallserial": "smallint", "serial2": "smallint",
    }.get(t, re.sub(r"^character varying", "varchar", re.sub(r"^decimal", "numeric", t)))  # fmt: skip


def type_change_facts(
    old: str | None, new: str, *, utc_session: bool = False
) -> tuple[bool, bool, bool]:
    """(rewrites, scans, narrows) for ALTER COLUMN TYPE old → new on PostgreSQL.

    Binary-coercible changes skip the rewrite: varchar(n) → varchar(m ≥ n) or text or
    unbounded varchar, numeric precision up at the same scale, text ↔ varchar without a
    limit. timestamp → timestamptz also skips it from 12 when the session TimeZone is UTC
    (we know that only when the migration sets it). Shrinking a varchar limit rewrites. With the old type unknown we assume the
    rewrite (fail safe) and call the change narrowing unless the target is a wide type.
    """
    new_c = _canonical_type(new)
    if old is None:
        return True, True, new_c not in _WIDE_TYPES
    old_c = _canonical_type(old)
    if old_c == new_c:
        return False, False, False
    ov, nv = _VARCHAR.match(old_c), _VARCHAR.match(new_c)
    if ov and (nv or new_c == "text"):
        old_len = int(ov.group(1)) if ov.group(1) else None
        new_len = int(nv.group(1)) if nv and nv.group(1) else None
        if new_len is None or (old_len is not None and new_len >= old_len):
            return False, False, False
        return True, True, True  # shrinking a limit rewrites (measured on PostgreSQL 15)
    if old_c == "text" and nv:
        return (False, False, False) if nv.group(1) is None else (True, True, True)
    on, nn = _NUMERIC.match(old_c), _NUMERIC.match(new_c)
    if on and nn:
        op, os_ = on.group(1), on.group(2) or "0"
        np_, ns = nn.group(1), nn.group(2) or "0"
        if np_ is None:
            return False, False, False
        if op is not None and os_ == ns and int(np_) >= int(op):
            return False, False, False
        return True, True, True
    oc = _CHAR.match(old_c)
    if oc and (
        new_c == "text" or (nv and (nv.group(1) is None or int(nv.group(1)) >= int(oc.group(1))))
    ):
        return True, True, False  # char(n) → varchar: rewritten (blanks stripped), not narrower
    if old_c == "cidr" and new_c == "inet":
        return False, False, False
    if old_c.startswith("timestamp") and new_c.startswith("timestamptz") and utc_session:
        # PostgreSQL 12+: binary-coercible when the session TimeZone is UTC.
        return False, False, False
    old_rank, new_rank = _INT_RANK.get(old_c), _INT_RANK.get(new_c)
    if old_rank and new_rank:
        return True, True, new_rank < old_rank
    if old_rank and nn:
        # integer → numeric(p, s) keeps every value when p - s covers the integer's digits.
        precision, scale = nn.group(1), nn.group(2) or "0"
        fits = precision is None or int(precision) - int(scale) >= _INT_DIGITS[old_rank]
        return True, True, not fits
    narrows = not (new_c == "text" or (old_rank and new_c == "double precision"))
    return True, True, bool(narrows)


def is_stored_generated(col: ColumnDef, version: tuple[int, ...]) -> bool:
    """PostgreSQL 18 added VIRTUAL generated columns (no rewrite) and made them the default."""
    return col.generated == "stored" or (col.generated == "default" and version[0] < 18)


def _add_column(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    col: ColumnDef | None = action.column_def
    if col is None:
        return Price(AE)
    base_type = col.data_type.split("(")[0].strip()
    volatile = (
        default_is_volatile(col.default)
        or base_type in SERIAL_TYPES
        or col.identity
        or is_stored_generated(col, version)
    )
    constant_default_rewrite = col.default is not None and version[0] < 11
    rewrites = volatile or constant_default_rewrite
    builds_index = "unique" in col.inline or "primary_key" in col.inline
    checks_rows = "check" in col.inline or builds_index
    has_default = col.default is not None or col.identity or base_type in SERIAL_TYPES or bool(
        col.generated)  # fmt: skip
    breaking = col.not_null and not has_default
    return Price(
        AE,
        compatibility=BREAKING if breaking else COMPATIBLE,
        rewrites=rewrites,
        # A NOT NULL column without a default makes PostgreSQL check every row (measured).
        scans=rewrites or checks_rows or breaking,
        data_dependent=breaking or checks_rows,
    )


_NUMERIC_FAMILY = re.compile(r"(?:small|big)?int(?:eger|[248])?\b|numeric|decimal|real|double"
                             r"|float|serial")
_TEXT_FAMILY = re.compile(r"(?:var)?char|character|text|citext|uuid")


def _family(t: str | None) -> str | None:
    if not t:
        return None
    t = t.strip().lower()
    if _NUMERIC_FAMILY.match(t):
        return "number"
    if _TEXT_FAMILY.match(t):
        return "text"
    return None


def _alter_type(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    old = state.column_type(action.table, action.column)
    utc = version[0] >= 12 and state.timezone_utc
    rewrites, scans, narrows = type_change_facts(old, action.data_type or "", utc_session=utc)
    old_family, new_family = _family(old), _family(action.data_type)
    if (old_family and new_family and old_family != new_family
            and state.is_key(action.table, action.column)):  # fmt: skip
        # A key the old app looks rows up by: integer → text makes `WHERE id = 5` fail
        # (no operator text = integer), text → integer its string parameters.
        narrows = True
    if action.using:
        rewrites = scans = True
    if not rewrites and state.in_expression_index(action.table, action.column):
        # No rewrite, but an index on an expression of the column (lower(username)) is
        # rebuilt from the table: a scan (measured: seq_scan + 1 under ACCESS EXCLUSIVE).
        scans = True
    return Price(
        AE,
        compatibility=BREAKING if narrows else COMPATIBLE,
        rewrites=rewrites,
        scans=scans,
        data_dependent=narrows or rewrites,
        phase=Phase.CONTRACT if narrows else Phase.EXPAND,
    )


def _add_constraint(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    ctype = action.constraint
    validates = not action.not_valid
    if ctype == "foreign_key":
        return Price(SRE, scans=validates, data_dependent=validates)
    if ctype == "check":
        return Price(AE, scans=validates, data_dependent=validates)
    if ctype in ("unique", "primary_key"):
        if action.using_index:
            # The index already exists; a primary key may still have to prove NOT NULL.
            return Price(AE, scans=ctype == "primary_key", data_dependent=ctype == "primary_key")
        # Old writers of duplicate (or NULL) values now fail: breaking (docs/hazards.md §7: L D B).
        return Price(AE, BREAKING, scans=True, data_dependent=True, phase=Phase.CONTRACT)
    return Price(AE, scans=True, data_dependent=True)  # exclusion


def _set_not_null(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    proven = (
        version[0] >= 12
        and ((action.table or "").rsplit(".", 1)[-1], action.column or "") in state.not_null_proven
    )
    return Price(AE, compatibility=BREAKING, scans=not proven, data_dependent=not proven,
                 phase=Phase.CONTRACT)  # fmt: skip


def _table_option(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    detail = action.detail or ""
    if detail.startswith("lock "):
        return Price(detail[5:])
    if detail in ("vacuum", "analyze", "set (", "cluster on", "index_option",
                  "column_statistics", "column_attributes"):  # fmt: skip
        return Price(SUE)
    if detail in ("enable", "disable"):
        return Price(SRE)
    if detail == "sequence":
        return Price(NONE)
    return Price(AE)


def _data_change(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    # No WHERE, or a WHERE that reads the table itself again (NOT IN (SELECT … FROM t)).
    whole_table = action.kind in ("data_update", "data_delete") and (
        not action.has_where or action.detail == "self_subquery"
    )
    return Price(RE, scans=whole_table, phase=Phase.BACKFILL)


def _detach(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    return Price(SUE if action.concurrently else AE)


def _rename_index(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    return Price(SUE if version[0] >= 12 else AE)


def _fixed(price: Price):  # type: ignore[no-untyped-def]
    return lambda action, state, version: price


_CONTRACT_BREAKING = Price(AE, compatibility=BREAKING, phase=Phase.CONTRACT)

_PRICES = {
    "create_table": _fixed(Price(AE)),
    "drop_table": _fixed(_CONTRACT_BREAKING),
    "rename_table": _fixed(_CONTRACT_BREAKING),
    "add_column": _add_column,
    "drop_column": _fixed(_CONTRACT_BREAKING),
    "rename_column": _fixed(_CONTRACT_BREAKING),
    "alter_column_type": _alter_type,
    "set_not_null": _set_not_null,
    # Old readers may now meet NULL (docs/hazards.md §6: B); the drop-column plan does it in expand.
    "drop_not_null": _fixed(Price(AE, BREAKING)),
    "set_default": _fixed(Price(AE)),
    "drop_default": _fixed(_CONTRACT_BREAKING),
    "add_constraint": _add_constraint,
    "drop_constraint": _fixed(Price(AE, phase=Phase.CONTRACT)),
    "validate_constraint": _fixed(Price(SUE, scans=True, data_dependent=True, phase=Phase.VERIFY)),
    "rename_constraint": _fixed(Price(AE)),
    "create_index": lambda a, s, v: Price(
        SUE if a.concurrently else SH, scans=True, data_dependent=a.unique
    ),
    "drop_index": lambda a, s, v: Price(SUE if a.concurrently else AE, phase=Phase.CONTRACT),
    "rename_index": _rename_index,
    "reindex": lambda a, s, v: Price(SUE if a.concurrently else SH, scans=True),
    "create_view": lambda a, s, v: Price(AE if a.detail == "replace" else NONE),
    "drop_view": _fixed(_CONTRACT_BREAKING),
    "alter_enum": lambda a, s, v: (
        Price(NONE)
        if a.detail == "add_value"
        else Price(AE, compatibility=BREAKING, phase=Phase.CONTRACT)
        if a.detail == "rename_value"
        else Price(NONE)
    ),
    "create_type": _fixed(Price(NONE)),
    "drop_type": _fixed(_CONTRACT_BREAKING),
    "create_trigger": _fixed(Price(SRE)),
    "drop_trigger": _fixed(Price(AE, phase=Phase.CONTRACT)),
    "data_update": _data_change,
    "data_delete": _data_change,
    "data_insert": _data_change,
    "truncate": _fixed(_CONTRACT_BREAKING),
    "rewrite_table": _fixed(Price(AE, rewrites=True, scans=True)),
    "alter_table_option": _table_option,
    "detach_partition": _detach,
    "attach_partition": _fixed(Price(SUE, scans=True, data_dependent=True)),
    "create_schema": _fixed(Price(NONE)),
    "drop_schema": _fixed(_CONTRACT_BREAKING),
    "rename_schema": _fixed(_CONTRACT_BREAKING),
    "create_extension": _fixed(Price(NONE)),
    "create_function": _fixed(Price(NONE)),
    "create_sequence": _fixed(Price(NONE)),
    "comment": _fixed(Price(SUE)),
    "grant": _fixed(Price(NONE)),
    "select": _fixed(Price(NONE)),
    "set_option": _fixed(Price(NONE)),
    "transaction": _fixed(Price(NONE)),
}


class PostgresDialect:
    name = "postgres"
    default_version = "16"
    kinds = frozenset(_PRICES)

    def assess(self, action: Action, state: FileState, version: tuple[int, ...]) -> Change:
        pricer = _PRICES.get(action.kind)
        price = UNKNOWN_PRICE if pricer is None else pricer(action, state, version)
        if state.is_new(action.table) and price.compatibility is Compatibility.BREAKING:
            # No deployed app version knows a table created by this same migration.
            price = Price(price.lock, COMPATIBLE, price.rewrites, price.scans,
                          price.data_dependent, Phase.EXPAND)  # fmt: skip
        lock_class = LOCK_CLASS.get(price.lock, LockClass.BLOCKS_READS_AND_WRITES)
        if action.kind == "create_table" or state.is_new(action.table):
            # A table this migration creates: its lock blocks nobody (no app uses it yet).
            lock_class = LockClass.NONE
        return to_change(action, price, lock_class)

    def lock_timeout_setting(self) -> frozenset[str]:
        return frozenset({"lock_timeout"})


POSTGRES = PostgresDialect()
