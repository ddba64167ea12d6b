"""What earlier statements of the same file (or Alembic revision) tell us about later ones.

Tables created earlier are new (their locks do not hurt anybody), a NOT VALID constraint
is waiting for its VALIDATE, a validated ``CHECK (c IS NOT NULL)`` lets PostgreSQL 12+
skip the scan of ``SET NOT NULL``, ``lock_timeout`` may already be set, and an explicit
transaction may be holding strong locks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemashift.model import Change, LockClass, Statement
from schemashift.rules.kinds import NOT_DDL
from schemashift.sql.actions import Action
from schemashift.sqltext.names import BadName, canonical_part, split_name

# Settings that bound lock waits, per dialect.
LOCK_TIMEOUT_SETTINGS = frozenset({"lock_timeout", "lock_wait_timeout", "innodb_lock_wait_timeout"})


@dataclass(slots=True)
class PendingConstraint:
    table: str | None
    line: int
    statement_index: int  # position of the statement in its file (findings attach there)
    in_transaction_index: int  # which explicit transaction it was added in (-1: none)
    not_null_column: str | None = None


@dataclass(slots=True)
class FileState:
    new_tables: set[str] = field(default_factory=set)
    # Column types we saw declared in this file: (table, column) → type text.
    column_types: dict[tuple[str, str], str] = field(default_factory=dict)
    # MySQL: the CHARACTER SET written on a column: (table, column) → charset.
    charsets: dict[tuple[str, str], str] = field(default_factory=dict)
    # MySQL: a table's default character set (CREATE TABLE … CHARSET=), for its columns.
    table_charsets: dict[str, str] = field(default_factory=dict)
    # Columns known to be NOT NULL (True) or nullable (False), from the same sources.
    not_null: dict[tuple[str, str], bool] = field(default_factory=dict)
    # The SQL of indexes on expressions, per table (their columns are not parsed out).
    expression_indexes: dict[str, list[str]] = field(default_factory=dict)
    # Primary key columns (MySQL keeps them NOT NULL whatever a MODIFY says).
    primary_keys: set[tuple[str, str]] = field(default_factory=set)
    # Key columns (PRIMARY KEY, UNIQUE, FOREIGN KEY): apps look rows up by them.
    key_columns: set[tuple[str, str]] = field(default_factory=set)
    not_valid: dict[str, PendingConstraint] = field(default_factory=dict)
    validated: set[str] = field(default_factory=set)
    # (table, column) pairs proven NOT NULL by a validated CHECK constraint.
    not_null_proven: set[tuple[str, str]] = field(default_factory=set)
    lock_timeout: bool = False
    lock_timeout_local: bool = False  # set by SET LOCAL: ends with the transaction
    statement_timeout: bool = False  # PostgreSQL statement_timeout set (and not reset)
    timezone_utc: bool = False  # SET TimeZone = 'UTC' seen (PostgreSQL timestamptz casts)
    foreign_key_checks: bool = True  # MySQL: SET foreign_key_checks = 0 allows INPLACE FKs
    transaction_index: int = -1  # counts explicit transactions; -1 before the first
    in_transaction: bool = False
    # Lines of statements that took a blocks-reads-and-writes lock in the open transaction,
    # and the table each locked.
    strong_locks_in_transaction: list[int] = field(default_factory=list)
    strong_lock_tables: list[str | None] = field(default_factory=list)
    ddl_statements: int = 0
    # MySQL/MariaDB semantics: `Users`, Users and users are one table (on the usual
    # case-insensitive setups), column names never depend on case, and columns have
    # character sets (tracked only here: nothing else reads them).
    mysql: bool = False

    def _t(self, table: str) -> str:
        """A table as the keys hold it (MySQL: case and quotes do not matter)."""
        bare = _bare(table)
        return _fold(bare) if self.mysql else bare

    def _c(self, column: str) -> str:
        return _fold(column) if self.mysql else column

    def is_new(self, table: str | None) -> bool:
        if table is None or not self.new_tables:
            return False
        # _t inlined: every rule asks this of every statement
        bare = _bare(table) if "." in table else table
        return (_fold(bare) if self.mysql else bare) in self.new_tables

    def column_type(self, table: str | None, column: str | None) -> str | None:
        if table is None or column is None:
            return None
        if not self.mysql:
            return self.column_types.get((_bare(table) if "." in table else table, column))
        return self.column_types.get((self._t(table), _fold(column)))

    def is_key(self, table: str | None, column: str | None) -> bool:
        return table is not None and column is not None and (self._t(table), self._c(column)) in self.key_columns

    def column_charset(self, table: str | None, column: str | None) -> str | None:
        if table is None or column is None:
            return None
        return self.charsets.get((self._t(table), self._c(column)))

    def is_primary_key(self, table: str | None, column: str | None) -> bool:
        return (table is not None and column is not None
                and (self._t(table), self._c(column)) in self.primary_keys)  # fmt: skip

    def in_expression_index(self, table: str | None, column: str | None) -> bool:
        """Whether an index on an expression of the table mentions the column."""
        if table is None or column is None or not self.expression_indexes:
            return False
        word = re.compile(rf"\b{re.escape(column.strip(chr(34)))}\b", re.IGNORECASE)
        return any(word.search(sql) for sql in self.expression_indexes.get(self._t(table), ()))

    def table_charset(self, table: str | None) -> str | None:
        return self.table_charsets.get(self._t(table)) if table else None

    def table_columns(self, table: str | None) -> list[tuple[str, str]]:
        """(column, type) of every column known for the table."""
        if table is None:
            return []
        key = self._t(table)
        return [(c, t) for (tb, c), t in self.column_types.items() if tb == key]

    def column_not_null(self, table: str | None, column: str | None) -> bool | None:
        """Whether the column is NOT NULL (None: not known)."""
        if table is None or column is None:
            return None
        return self.not_null.get((self._t(table), self._c(column)))

    def before(self, statement: Statement) -> None:
        """Called before a statement is analysed."""
        self.in_transaction = statement.in_transaction

    def after(self, statement: Statement, actions: list[Action], changes: list[Change]) -> None:
        """Record what the statement did, for the statements after it."""
        for action in actions:
            if action.kind == "transaction" and action.detail in ("begin", "commit", "rollback"):
                # Each BEGIN opens a new explicit transaction; COMMIT/ROLLBACK release locks.
                if action.detail == "begin":
                    self.transaction_index += 1
                elif self.lock_timeout_local:  # COMMIT / ROLLBACK end a SET LOCAL
                    self.lock_timeout = self.lock_timeout_local = False
                self.strong_locks_in_transaction = []
                self.strong_lock_tables = []
        for action in actions:
            self.record(statement, action)
        # ``changes`` may be empty outside a transaction (Linter.prime skips pricing there).
        for action, change in zip(actions, changes, strict=False):
            if (
                self.in_transaction
                and change.lock_class is LockClass.BLOCKS_READS_AND_WRITES
                and not self.is_new(action.table)
                and action.kind != "create_table"
            ):
                self.strong_locks_in_transaction.append(statement.line)
                self.strong_lock_tables.append(action.table)
        if any(a.kind not in _NOT_DDL for a in actions):
            self.ddl_statements += 1
        if not statement.in_transaction:
            self.strong_locks_in_transaction = []
            self.strong_lock_tables = []

    def record(self, statement: Statement, action: Action) -> None:
        kind = action.kind
        table = self._t(action.table) if action.table else None
        if kind == "create_table" and table:
            self.new_tables.add(table)
            default_charset = _table_charset(statement.sql) if self.mysql else None
            if default_charset:
                self.table_charsets[table] = default_charset
            mysql = self.mysql
            for col in action.columns:
                key = (table, _fold(col.name) if mysql else col.name)
                self.column_types[key] = col.data_type
                if mysql:
                    self._charset(table, key[1], col.charset)
                self.not_null[key] = col.not_null or "primary_key" in col.inline
                if col.inline:
                    if {"primary_key", "unique", "foreign_key"} & set(col.inline):
                        self.key_columns.add(key)
                    if "primary_key" in col.inline:
                        self.primary_keys.add(key)
        elif kind == "add_column" and table and action.column_def:
            col = action.column_def
            self.column_types[(table, self._c(col.name))] = col.data_type
            self._charset(table, self._c(col.name), col.charset)
            self.not_null[(table, self._c(col.name))] = col.not_null or "primary_key" in col.inline
        elif kind == "alter_column_type" and table and action.column and action.data_type:
            self.column_types[(table, self._c(action.column))] = action.data_type
            if action.column_def is not None:  # MySQL MODIFY restates the nullability
                self.not_null[(table, self._c(action.column))] = action.column_def.not_null
                self._charset(table, self._c(action.column), action.column_def.charset)
        elif kind in ("set_not_null", "drop_not_null") and table and action.column:
            self.not_null[(table, self._c(action.column))] = kind == "set_not_null"
        elif kind == "rename_column" and table and action.column and action.new_name:
            # the renamed column keeps its type: a later type change of it is priced on it
            known = self.column_types.pop((table, self._c(action.column)), None)
            if known is not None:
                self.column_types[(table, self._c(action.new_name))] = known
            null = self.not_null.pop((table, self._c(action.column)), None)
            if action.column_def is not None:  # MySQL CHANGE restates the definition
                null = action.column_def.not_null
            if null is not None:
                self.not_null[(table, self._c(action.new_name))] = null
        elif kind == "rewrite_table" and table and action.detail == "convert_to" and action.value:
            # CONVERT TO CHARACTER SET: the table's default and every character column's
            self.table_charsets[table] = action.value
            for key in [k for k in self.charsets if k[0] == table]:
                self.charsets[key] = action.value
        elif kind == "create_index" and table and action.column is None:
            self.expression_indexes.setdefault(table, []).append(statement.sql)
        elif kind == "rename_table" and table and action.new_name and table in self.new_tables:
            self.new_tables.add(self._t(action.new_name))
        elif kind == "set_option" and action.name:
            name = action.name.split(".")[-1]
            if name in ("statement_timeout", "all"):
                value = (action.value or "").strip().lower().strip("'")
                self.statement_timeout = action.detail != "reset" and value not in (
                    "0", "default", "")
            if name in LOCK_TIMEOUT_SETTINGS or name == "all":
                value = (action.value or "").strip().lower()
                on = action.detail != "reset" and value not in ("0", "default", "")
                self.lock_timeout = on
                # SET LOCAL ends with the transaction; outside one it does nothing at all.
                self.lock_timeout_local = on and action.detail == "local"
            elif name in ("timezone", "time_zone"):
                self.timezone_utc = (action.value or "").strip().upper() in (
                    "UTC",
                    "ETC/UTC",
                    "GMT",
                    "Z",
                    "+00:00",
                )
            elif name == "foreign_key_checks":
                self.foreign_key_checks = (action.value or "1").strip().lower() not in ("0", "off")
        elif kind == "add_constraint" and action.name:
            if action.not_valid:
                self.not_valid[action.name] = PendingConstraint(
                    table, statement.line, statement.index,
                    self.transaction_index if self.in_transaction else -1,
                    action.column if action.detail == "not_null_check" else None,
                )  # fmt: skip
            elif action.detail == "not_null_check" and table and action.column:
                self.not_null_proven.add((table, self._c(action.column)))
        elif kind == "validate_constraint" and action.name:
            pending = self.not_valid.pop(action.name, None)
            self.validated.add(action.name)
            if pending and pending.not_null_column and pending.table:
                self.not_null_proven.add((pending.table, pending.not_null_column))


    def _charset(self, table: str, column: str, charset: str | None) -> None:
        if not self.mysql:
            return
        # Without CHARACTER SET a column takes the table's default (a MODIFY too).
        charset = charset or self.table_charsets.get(table)
        if charset:
            self.charsets[(table, column)] = charset
        else:
            self.charsets.pop((table, column), None)


_NOT_DDL = NOT_DDL
_TABLE_CHARSET = re.compile(r"\)[^()]*?\b(?:CHARACTER\s+SET|CHARSET)\s*=?\s*[`'\"]?(\w+)",
                            re.IGNORECASE)  # fmt: skip


def _table_charset(sql: str) -> str | None:
    """The default character set a CREATE TABLE names after its column list."""
    if "char" not in sql.lower():
        return None
    m = _TABLE_CHARSET.search(sql, sql.rfind(")") if sql.rfind(")") >= 0 else 0)
    return m.group(1).lower() if m else None


def _fold(name: str) -> str:
    return name.replace('"', "").lower()


def _bare(table: str) -> str:
    """Compare tables without a public/default schema qualifier (the last part of the
    canonical name, still canonical: ``app."a.b"`` → ``"a.b"``)."""
    if "." not in table:
        return table
    if '"' not in table:
        return table.rsplit(".", 1)[-1]
    try:
        return canonical_part(split_name(table)[-1])
    except BadName:
        return table
