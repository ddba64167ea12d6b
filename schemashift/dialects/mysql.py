"""MySQL 8 / MariaDB 10.11 facts: which online-DDL algorithm an ALTER gets, and its LOCK.

The ``lock`` of a change is the online-DDL LOCK level the server can use: ``none`` (DML
continues; INSTANT or INPLACE), ``shared`` (reads only; the COPY algorithm) or
``exclusive``. Checked against MariaDB in ``tests/db/test_mariadb_online_ddl.py`` by asking
the server for ``ALGORITHM=INSTANT`` / ``INPLACE, LOCK=NONE`` and seeing it accept or refuse.
Every DDL statement commits on its own: there is no transactional DDL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from schemashift.dialects.base import BREAKING, COMPATIBLE, UNKNOWN_PRICE, Price, to_change
from schemashift.dialects.mysql_types import BYTES_PER_CHAR, charset_holds, widens
from schemashift.model import Change, Compatibility, LockClass, Phase

if TYPE_CHECKING:
    from schemashift.analysis.file_state import FileState
    from schemashift.sql.actions import Action

NONE = "none"
SHARED = "shared"
EXCLUSIVE = "exclusive"

LOCK_CLASS = {
    NONE: LockClass.NONE,
    SHARED: LockClass.BLOCKS_WRITES,
    EXCLUSIVE: LockClass.BLOCKS_READS_AND_WRITES,
    "unknown": LockClass.BLOCKS_READS_AND_WRITES,
}


def is_mariadb(version: tuple[int, ...]) -> bool:
    return version[0] >= 10


def instant_add_anywhere(version: tuple[int, ...]) -> bool:
    """MySQL 8.0.29+ and MariaDB 10.4+ add a column instantly at any position."""
    return version >= (10, 4) if is_mariadb(version) else version >= (8, 0, 29)


def instant_drop(version: tuple[int, ...]) -> bool:
    return version >= (10, 4) if is_mariadb(version) else version >= (8, 0, 29)


def _copy(**kw: object) -> Price:
    return Price(SHARED, rewrites=True, scans=True, **kw)  # type: ignore[arg-type]


def _rebuild(**kw: object) -> Price:
    """INPLACE with a table rebuild: DML continues, but the whole table is rewritten."""
    return Price(NONE, rewrites=True, scans=True, **kw)  # type: ignore[arg-type]


def _add_column(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    col = action.column_def
    if col is None:
        return Price(NONE)
    breaking = col.not_null and col.default is None and not col.identity and not col.generated
    compat = BREAKING if breaking else COMPATIBLE
    if col.generated == "stored" or col.identity:
        return _copy(compatibility=compat, data_dependent=True)
    if "unique" in col.inline or "primary_key" in col.inline:
        return _rebuild(compatibility=compat, data_dependent=True)
    if action.position and not instant_add_anywhere(version):
        return _rebuild(compatibility=compat)
    return Price(NONE, compatibility=compat)


_VARCHAR = re.compile(r"varchar\((\d+)\)")


def _varchar_widening(old: str, new: str, version: tuple[int, ...], per: int = 4) -> bool | None:
    """True: in place without a copy; False: needs COPY; None: not a varchar widening.

    The length prefix is 1 byte up to 255 bytes, 2 bytes above. MySQL keeps the change in
    place only when the prefix size stays; MariaDB also extends in place from a column of
    at most 127 bytes (measured on 10.11). ``per``: bytes per character of the column's
    character set (utf8mb4, 4, unless the column says otherwise).
    """
    om, nm = _VARCHAR.match(old), _VARCHAR.match(new)
    if not (om and nm) or int(nm.group(1)) < int(om.group(1)):
        return None
    old_b, new_b = int(om.group(1)) * per, int(nm.group(1)) * per
    if (old_b <= 255) == (new_b <= 255):
        return True
    return is_mariadb(version) and old_b <= 127


def _enum_members(t: str) -> list[str]:
    return re.findall(r"'((?:[^']|'')*)'", t)


def sets_not_null(action: Action, state: FileState) -> bool:
    """``MODIFY c <same type> NOT NULL``: only the nullability changes (set_not_null).

    Measured on MariaDB 10.11: INPLACE with ``LOCK=NONE`` but the table is rebuilt (its
    InnoDB table id changes), and in strict mode it fails on the first NULL row ("Data
    truncated"): data-dependent. MySQL 8.0 likewise ("Making a column NOT NULL": in place,
    rebuilds the table; manual 15.12.1 Online DDL Operations, Column Operations).
    """
    col = action.column_def
    if action.kind != "alter_column_type" or col is None or not col.not_null:
        return False
    if state.column_not_null(action.table, action.column) is True:
        return False  # it already was NOT NULL
    old = _unbinary(state.column_type(action.table, action.column))
    return old is not None and old == _unbinary(col.data_type)


def _unbinary(t: str | None) -> str | None:
    """``varchar(40) binary`` is varchar(40) with the _bin collation: the same type."""
    return t[: -len(" binary")] if t and t.endswith(" binary") else t


def _modify(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    """MODIFY / CHANGE: without the old definition we assume a type change (COPY)."""
    price = _modify_type(action, state, version)
    if _drops_not_null(action, state):
        # The column becomes nullable: old readers may meet NULL (breaking, as DROP NOT
        # NULL), and the table is rebuilt in place at least (measured: NOCOPY refused).
        return Price(price.lock, BREAKING, True, True, price.data_dependent, Phase.CONTRACT)
    return price


def _modify_type(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    col = action.column_def
    old = _unbinary(state.column_type(action.table, action.column))
    new = _unbinary(col.data_type if col else action.data_type)
    old_cs = state.column_charset(action.table, action.column)
    # A MODIFY without CHARACTER SET gives the column the table's default again.
    new_cs = (col.charset or state.table_charset(action.table)) if col else None
    if new_cs and old_cs and new_cs != old_cs and not _utf8mb4_upgrade(old_cs, new_cs, old, new,
                                                                      version):  # fmt: skip
        # A new character set converts every value: COPY (measured: MariaDB 10.11 refuses
        # INPLACE for MODIFY … CHARACTER SET latin1 on a utf8mb4 column). Only a target that
        # holds every old character keeps the old app's writes.
        if (not charset_holds(old_cs, new_cs) or old is None
                or widens(old, new or "", old_cs, new_cs) is False):  # fmt: skip
            return _copy(compatibility=BREAKING, data_dependent=True, phase=Phase.CONTRACT)
        return _copy(data_dependent=True)
    if old is not None and new is not None:
        if old == new:
            # Same type: only nullability, default, collation, comment or position change.
            if sets_not_null(action, state):
                return _rebuild(compatibility=BREAKING, data_dependent=True, phase=Phase.CONTRACT)
            if col is not None and col.collation and state.is_key(action.table, action.column):
                # A new collation re-sorts the column's index (measured on MariaDB 10.11):
                # the primary key's is the table, copied; a unique index is rebuilt in
                # place. An unindexed column's collation is INSTANT.
                if state.is_primary_key(action.table, action.column):
                    return _copy(data_dependent=True)
                return Price(NONE, scans=True, data_dependent=True)
            return Price(NONE)  # default, collation, comment or position only: INSTANT
        per = BYTES_PER_CHAR.get(new_cs or old_cs or "utf8mb4", 4)
        widening = _varchar_widening(old, new, version, per)
        if widening is True:
            return Price(NONE)
        if old.startswith(("enum(", "set(")) and new.startswith(old.split("(")[0] + "("):
            old_m, new_m = _enum_members(old), _enum_members(new)
            if new_m[: len(old_m)] == old_m:
                return Price(NONE)  # appending members is metadata only
            if set(old_m) <= set(new_m):
                # Members inserted before others: a copy (their numbers change), but every
                # stored value and every value the old app writes stays valid. SS704 warns.
                return _copy()
        if widens(old, new, old_cs, new_cs or old_cs):
            return _copy(data_dependent=True)  # a copy, but old values and writers still fit
    return _copy(compatibility=BREAKING, data_dependent=True, phase=Phase.CONTRACT)


def _utf8mb4_upgrade(old_cs: str, new_cs: str, old: str | None, new: str | None,
                     version: tuple[int, ...]) -> bool:  # fmt: skip
    """MariaDB 10.4+ changes a CHAR/VARCHAR from utf8mb3 to utf8mb4 without a copy
    (MDEV-15564, merged into 10.4; measured INSTANT on 10.11). MySQL 8.0 copies (manual
    15.12.1, Column Operations: changing the character set needs ALGORITHM=COPY)."""
    return (is_mariadb(version) and version >= (10, 4) and old_cs in ("utf8", "utf8mb3")
            and new_cs == "utf8mb4" and old is not None and old == new
            and old.startswith(("char(", "varchar(")))  # fmt: skip


# CONVERT TO CHARACTER SET turns these into a larger type (TEXT → MEDIUMTEXT) or rebuilds
# their value lists: a copy whatever the character sets.
_CONVERT_COPIES = ("tinytext", "text", "mediumtext", "enum(", "set(")


def _convert_to(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    """CONVERT TO CHARACTER SET: a copy (MySQL 8.0: "Converting a character set", In Place
    No; manual 15.12.1, Table Operations), except on MariaDB 10.4+ where the table already
    has that character set (a no-op for the data) or goes utf8mb3 → utf8mb4 with only
    CHAR/VARCHAR/LONGTEXT columns (measured NOCOPY/INSTANT with LOCK=NONE on 10.11)."""
    old_cs, new_cs = state.table_charset(action.table), action.value
    if is_mariadb(version) and version >= (10, 4) and old_cs and new_cs:
        columns = state.table_columns(action.table)
        if old_cs == new_cs:
            return Price(NONE)
        if (old_cs in ("utf8", "utf8mb3") and new_cs == "utf8mb4" and columns
                and not any(t.startswith(_CONVERT_COPIES) for _, t in columns)):  # fmt: skip
            return Price(NONE)
    return _copy(compatibility=COMPATIBLE if charset_holds(old_cs, new_cs) else BREAKING,
                 data_dependent=True)  # fmt: skip


def _rename_column(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    if action.detail == "change" and action.column_def is not None:
        old = state.column_type(action.table, action.column)
        if old is None or old != action.column_def.data_type:
            return _copy(compatibility=BREAKING, data_dependent=True, phase=Phase.CONTRACT)
        was = state.column_not_null(action.table, action.column)
        if was is not None and was != action.column_def.not_null:
            # CHANGE a b <same type> with the nullability flipped: rebuilt in place (measured);
            # adding NOT NULL fails on the first NULL row.
            return _rebuild(compatibility=BREAKING, data_dependent=action.column_def.not_null,
                            phase=Phase.CONTRACT)  # fmt: skip
    return Price(NONE, compatibility=BREAKING, phase=Phase.CONTRACT)


def _drops_not_null(action: Action, state: FileState) -> bool:
    """``MODIFY c <same type>`` without the NOT NULL the column had: it becomes nullable."""
    col = action.column_def
    return (action.kind == "alter_column_type" and col is not None and not col.not_null
            and state.column_not_null(action.table, action.column) is True
            # a primary key column stays NOT NULL whatever the MODIFY says
            and not state.is_primary_key(action.table, action.column))  # fmt: skip


def _add_constraint(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    ctype = action.constraint
    if ctype == "foreign_key":
        if state.foreign_key_checks:
            return _copy(data_dependent=True)
        return Price(NONE)
    if ctype == "unique":
        return Price(NONE, BREAKING, scans=True, data_dependent=True, phase=Phase.CONTRACT)
    if ctype == "primary_key":
        return _rebuild(compatibility=BREAKING, data_dependent=True, phase=Phase.CONTRACT)
    # CHECK constraints are verified with a table copy.
    return _copy(data_dependent=True)


def _drop_constraint(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    if action.constraint == "primary_key" and action.detail == "replace_pk":
        return _rebuild(phase=Phase.CONTRACT)  # DROP + ADD PRIMARY KEY together: in place
    if action.constraint == "primary_key":
        return _copy(phase=Phase.CONTRACT)
    return Price(NONE, phase=Phase.CONTRACT)


def _create_index(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    if action.detail in ("fulltext", "spatial"):
        # The first FULLTEXT/SPATIAL index of a table cannot be built with LOCK=NONE, and
        # FULLTEXT adds the hidden FTS_DOC_ID column: the table is rebuilt (NOCOPY refused).
        return Price(SHARED, rewrites=action.detail == "fulltext", scans=True,
                     data_dependent=action.unique)  # fmt: skip
    return Price(NONE, scans=True, data_dependent=action.unique)


def _fixed(price: Price):  # type: ignore[no-untyped-def]
    return lambda action, state, version: price


# Table options InnoDB applies by rebuilding the table in place (measured on MariaDB 10.11:
# ALGORITHM=NOCOPY refused, INPLACE with LOCK=NONE accepted; MySQL 8.0 the same for
# ROW_FORMAT and KEY_BLOCK_SIZE, manual 15.12.1, Table Operations). COMMENT,
# AUTO_INCREMENT, STATS_* and the default character set are metadata (INSTANT).
_REBUILD_OPTIONS = frozenset({
    "row_format", "key_block_size", "page_compressed", "page_compression_level",
    "encrypted", "encryption", "encryption_key_id", "compression", "checksum",
})  # fmt: skip


def _rebuilds(action: Action) -> bool:
    option = (action.name or action.detail or "").lower().rstrip("= ").replace(" ", "_")
    return option in _REBUILD_OPTIONS


_BREAKING_META = Price(NONE, compatibility=BREAKING, phase=Phase.CONTRACT)

_PRICES = {
    "create_table": _fixed(Price(NONE)),
    "drop_table": _fixed(Price(EXCLUSIVE, compatibility=BREAKING, phase=Phase.CONTRACT)),
    "rename_table": _fixed(Price(EXCLUSIVE, compatibility=BREAKING, phase=Phase.CONTRACT)),
    "add_column": _add_column,
    "drop_column": lambda a, s, v: (
        Price(NONE, compatibility=BREAKING, phase=Phase.CONTRACT)
        if instant_drop(v)
        else _rebuild(compatibility=BREAKING, phase=Phase.CONTRACT)
    ),
    "rename_column": _rename_column,
    "alter_column_type": _modify,
    "set_default": _fixed(Price(NONE)),
    "drop_default": _fixed(_BREAKING_META),
    "add_constraint": _add_constraint,
    "drop_constraint": _drop_constraint,
    "create_index": _create_index,
    "drop_index": _fixed(Price(NONE, phase=Phase.CONTRACT)),
    "rename_index": _fixed(Price(NONE)),
    "create_view": _fixed(Price(NONE)),
    "drop_view": _fixed(_BREAKING_META),
    "create_trigger": _fixed(Price(NONE)),
    "drop_trigger": _fixed(Price(NONE, phase=Phase.CONTRACT)),
    "data_update": lambda a, s, v: Price(NONE, scans=not a.has_where, phase=Phase.BACKFILL),
    "data_delete": lambda a, s, v: Price(NONE, scans=not a.has_where, phase=Phase.BACKFILL),
    "data_insert": _fixed(Price(NONE, phase=Phase.BACKFILL)),
    "truncate": _fixed(Price(EXCLUSIVE, compatibility=BREAKING, phase=Phase.CONTRACT)),
    "rewrite_table": lambda a, s, v: (
        _rebuild() if a.detail == "engine_innodb"
        else _convert_to(a, s, v) if a.detail == "convert_to" else _copy()
    ),
    "alter_table_option": lambda a, s, v: _rebuild() if _rebuilds(a) else Price(NONE),
    "create_schema": _fixed(Price(NONE)),
    "drop_schema": _fixed(Price(EXCLUSIVE, compatibility=BREAKING, phase=Phase.CONTRACT)),
    "create_function": _fixed(Price(NONE)),
    "create_sequence": _fixed(Price(NONE)),
    "comment": _fixed(Price(NONE)),
    "grant": _fixed(Price(NONE)),
    "select": _fixed(Price(NONE)),
    "set_option": _fixed(Price(NONE)),
    "transaction": _fixed(Price(NONE)),
}
_CLAUSE_LOCK = {"NONE": NONE, "SHARED": SHARED, "EXCLUSIVE": EXCLUSIVE}


class MySQLDialect:
    name = "mysql"
    default_version = "8.0"
    kinds = frozenset(_PRICES)

    def assess(self, action: Action, state: FileState, version: tuple[int, ...]) -> Change:
        pricer = _PRICES.get(action.kind)
        price = UNKNOWN_PRICE if pricer is None else pricer(action, state, version)
        if pricer is not None:
            price = self._apply_clauses(action, price)
        if state.is_new(action.table) and price.compatibility is Compatibility.BREAKING:
            price = Price(price.lock, COMPATIBLE, price.rewrites, price.scans,
                          price.data_dependent, Phase.EXPAND)  # fmt: skip
        change = to_change(
            action, price, LOCK_CLASS.get(price.lock, LockClass.BLOCKS_READS_AND_WRITES)
        )
        if pricer is not None and sets_not_null(action, state):
            change = replace(change, kind="set_not_null")
        elif pricer is not None and _drops_not_null(action, state):
            change = replace(change, kind="drop_not_null")
        return change

    def assess_statement(
        self, actions: Sequence[Action], state: FileState, version: tuple[int, ...]
    ) -> list[Change]:
        """Price one statement: the server runs an ALTER TABLE with one algorithm and one
        lock for all its clauses, the strongest any clause needs (COPY > INPLACE with a
        rebuild > INPLACE > INSTANT; measured on MariaDB 10.11 in
        tests/db/test_mariadb_statement_algorithm.py). MySQL 8.0 the same: ALGORITHM=INSTANT
        cannot combine an ADD COLUMN with clauses that do not support INSTANT (manual
        15.12.1 Online DDL Operations, Column Operations), the one algorithm is the one
        every clause supports.

        Every change of the statement gets that lock, rewrite and scan; its kind,
        compatibility, phase and data dependence stay its own (``assess`` still gives each
        clause's own price, the reason the statement needs what it needs).
        """
        changes = [self.assess(a, state, version) for a in actions]
        if len(changes) < 2 or not one_alter_table(actions):
            return changes
        return combine(changes, rebuild=_instant_column_with_index_build(actions, changes, version))

    @staticmethod
    def _apply_clauses(action: Action, price: Price) -> Price:
        """An explicit ALGORITHM/LOCK clause is what the server must honour (or refuse)."""
        lock = _CLAUSE_LOCK.get(action.lock_clause or "")
        algorithm = action.algorithm or ""
        if algorithm == "COPY":
            lock = lock or SHARED
            return Price(lock, price.compatibility, True, True, price.data_dependent, price.phase)
        if algorithm in ("INSTANT", "NOCOPY") or (algorithm == "INPLACE" and lock == NONE):
            # The server honours the clause or refuses: no copy. INSTANT reads no rows.
            rewrites = price.rewrites and algorithm == "INPLACE"
            scans = price.scans and algorithm == "INPLACE"
            return Price(lock or NONE, price.compatibility, rewrites, scans,
                         price.data_dependent, price.phase)  # fmt: skip
        if lock is not None:
            return Price(lock, price.compatibility, price.rewrites, price.scans,
                         price.data_dependent, price.phase)  # fmt: skip
        return price

    def lock_timeout_setting(self) -> frozenset[str]:
        return frozenset({"lock_wait_timeout"})


# The kinds an ALTER TABLE clause is recognised as (ADD INDEX is create_index, RENAME TO is
# rename_table, ENGINE= / CONVERT TO rewrite_table).
_ALTER_CLAUSE_KINDS = frozenset({
    "add_column", "drop_column", "rename_column", "alter_column_type", "set_default",
    "drop_default", "add_constraint", "drop_constraint", "create_index", "drop_index",
    "rename_index", "rewrite_table", "alter_table_option", "rename_table",
})  # fmt: skip
_LOCK_RANK = {NONE: 0, SHARED: 1, EXCLUSIVE: 2, "unknown": 3}


def one_alter_table(actions: Sequence[Action]) -> bool:
    """The actions are the clauses of one ALTER TABLE (one table, clause kinds only)."""
    table = actions[0].table
    return table is not None and all(
        a.table == table and a.kind in _ALTER_CLAUSE_KINDS for a in actions
    )


def algorithm_of(change: Change) -> str:
    """The online-DDL algorithm a priced change stands for (the classifier's reading)."""
    if change.rewrites_table:
        return "COPY" if change.lock != NONE else "INPLACE-rebuild"
    return "INPLACE" if change.scans_table else "INSTANT"


def _instant_column_with_index_build(
    actions: Sequence[Action], changes: Sequence[Change], version: tuple[int, ...]
) -> bool:
    """MariaDB adds or drops a column instantly only when no other clause needs INPLACE:
    with an ADD INDEX in the same ALTER the table is rebuilt (measured on 10.11:
    ALGORITHM=NOCOPY refused; with DROP INDEX or SET DEFAULT it is not). MySQL 8.0 adds a
    column in place without a rebuild (manual 15.12.1, Column Operations), so MariaDB only.
    """
    if not is_mariadb(version):
        return False
    column = any(
        a.kind in ("add_column", "drop_column") and not c.rewrites_table
        for a, c in zip(actions, changes, strict=True)
    )
    return column and any(a.kind == "create_index" for a in actions)


def combine(changes: Sequence[Change], rebuild: bool = False) -> list[Change]:
    """Every change with the strongest lock, rewrite and scan among them (``rebuild``: the
    combination itself rebuilds the table)."""
    lock = max((c.lock for c in changes), key=lambda lk: _LOCK_RANK.get(lk, 3))
    lock_class = max((c.lock_class for c in changes), key=lambda lc: lc.rank)
    rewrites = rebuild or any(c.rewrites_table for c in changes)
    scans = any(c.scans_table for c in changes)
    return [
        replace(c, lock=lock, lock_class=lock_class, rewrites_table=rewrites, scans_table=scans)
        for c in changes
    ]


MYSQL = MySQLDialect()
