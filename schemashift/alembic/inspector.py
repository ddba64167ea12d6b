"""Answer, offline, what the database would have answered: a schema model of the history.

Many real revisions ask the database something before they change it: ``sa.inspect(bind)``
then ``has_table`` / ``get_columns`` / ``get_indexes`` …, a ``SELECT`` through
``op.get_bind()``, or SQLite batch mode, which reflects the live table to copy it. Offline
(``as_sql``) there is no database, so those revisions used to stop.

``SchemaModel`` is the schema the revisions rendered before have built: tables, columns
(type, nullability, server default, comment), primary key, indexes, unique and check
constraints, foreign keys. Every operation a revision invokes is applied to it as it is
rendered (``modelling``), and the offline migration context hands out a ``FakeBind``:

- its ``dialect`` is the target one, and ``sa.inspect(bind)`` gives a ``ModelInspector``
  (a SQLAlchemy ``Inspector``) answering from the model, so ``Table(..., autoload_with=
  bind)`` and ``MetaData.reflect(bind)`` work too;
- ``bind.execute(select …)`` / ``text("SELECT …")`` returns an empty result (the scratch
  database a history upgrades has no rows); a data change (``UPDATE`` …) is written to
  the revision's SQL at the line that executed it, like any operation;
- SQLite batch mode (``batch_alter_table`` without ``copy_from``) gets the table from the
  model as its ``copy_from``.

Answers are what an empty database upgraded by the same revisions would say, not what a
production database says: a revision whose work depends on its data is read as it runs
on an empty one (``lint --replay-database`` runs it for real).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine.reflection import Inspector

# Names a database gives constraints left unnamed, per dialect (what reflection returns).
_PK_NAMES = {"postgresql": "{table}_pkey", "mysql": "PRIMARY"}
_UNIQUE_NAMES = {"postgresql": "{table}_{column}_key", "mysql": "{column}"}
_FK_NAMES = {"postgresql": "{table}_{column}_fkey", "mysql": "{table}_ibfk_{n}"}
_DEFAULT_SCHEMAS = {"postgresql": "public", "sqlite": "main"}
_DDL_WORDS = re.compile(r"\b(CREATE|ALTER|DROP)\b", re.IGNORECASE)
_READS = ("SELECT", "WITH", "SHOW", "PRAGMA", "EXPLAIN", "DESCRIBE", "DESC", "VALUES", "TABLE")


@dataclass
class ColumnModel:
    name: str
    type: Any  # a SQLAlchemy TypeEngine
    nullable: bool = True
    default: str | None = None  # the server default, as SQL text
    autoincrement: bool | str = "auto"
    comment: str | None = None


@dataclass
class IndexModel:
    name: str | None
    columns: list[str | None]  # None: an expression (in ``expressions``)
    unique: bool = False
    expressions: list[str] = field(default_factory=list)


@dataclass
class ForeignKeyModel:
    name: str | None
    columns: list[str]
    referred_schema: str | None
    referred_table: str
    referred_columns: list[str]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableModel:
    name: str
    schema: str | None
    columns: dict[str, ColumnModel] = field(default_factory=dict)
    pk_name: str | None = None
    pk: list[str] = field(default_factory=list)
    indexes: list[IndexModel] = field(default_factory=list)
    uniques: list[tuple[str | None, list[str]]] = field(default_factory=list)
    foreign_keys: list[ForeignKeyModel] = field(default_factory=list)
    checks: list[tuple[str | None, str]] = field(default_factory=list)
    comment: str | None = None

    def clone(self) -> TableModel:
        return replace(
            self,
            columns={k: replace(c) for k, c in self.columns.items()},
            pk=list(self.pk),
            indexes=[replace(i, columns=list(i.columns)) for i in self.indexes],
            uniques=[(n, list(c)) for n, c in self.uniques],
            foreign_keys=[replace(f, columns=list(f.columns)) for f in self.foreign_keys],
            checks=list(self.checks),
        )

    def rename_column(self, old: str, new: str) -> None:
        self.columns = {(new if k == old else k): c for k, c in self.columns.items()}
        self.columns[new].name = new
        self.pk = [new if c == old else c for c in self.pk]
        for index in self.indexes:
            index.columns = [new if c == old else c for c in index.columns]
        self.uniques = [(n, [new if c == old else c for c in cols]) for n, cols in self.uniques]
        for fk in self.foreign_keys:
            fk.columns = [new if c == old else c for c in fk.columns]

    def drop_column(self, name: str) -> None:
        self.columns.pop(name, None)
        self.pk = [c for c in self.pk if c != name]
        self.indexes = [i for i in self.indexes if name not in i.columns]
        self.uniques = [(n, cols) for n, cols in self.uniques if name not in cols]
        self.foreign_keys = [f for f in self.foreign_keys if name not in f.columns]


class SchemaModel:
    """The schema an empty database would have after the revisions applied so far."""

    def __init__(self, dialect: str, version_table: str = "alembic_version") -> None:
        self.dialect = {"postgres": "postgresql"}.get(dialect, dialect)
        self.tables: dict[tuple[str | None, str], TableModel] = {}
        self.answers = 0  # how many questions the model answered (per revision: reset it)
        self.mode_asked = False  # the revision asked context.is_offline_mode()
        self.row_ids: dict[tuple[str | None, str], int] = {}  # rows inserted through the bind
        if version_table:
            from sqlalchemy import String

            self.tables[(None, version_table)] = TableModel(
                version_table, None, {"version_num": ColumnModel("version_num", String(32),
                                                                 nullable=False)},
                pk_name=self._pk_name(version_table), pk=["version_num"],
            )  # fmt: skip

    # -- keys and names ---------------------------------------------------------------

    @property
    def default_schema(self) -> str | None:
        return _DEFAULT_SCHEMAS.get(self.dialect)

    def key(self, name: str, schema: str | None = None) -> tuple[str | None, str]:
        if schema in ("", self.default_schema):
            schema = None
        if self.dialect == "mysql":
            # Table names are case-insensitive on most MySQL/MariaDB installations.
            for key in self.tables:
                if key[0] == schema and key[1].lower() == name.lower():
                    return key
        return (schema, name)

    def table(self, name: str, schema: str | None = None) -> TableModel | None:
        return self.tables.get(self.key(name, schema))

    def _pk_name(self, table: str) -> str | None:
        template = _PK_NAMES.get(self.dialect)
        return template.format(table=table) if template else None

    # -- snapshots ----------------------------------------------------------------------

    def snapshot(self) -> dict[tuple[str | None, str], TableModel]:
        return {k: t.clone() for k, t in self.tables.items()}

    def restore(self, snapshot: dict[tuple[str | None, str], TableModel]) -> None:
        self.tables = {k: t.clone() for k, t in snapshot.items()}

    # -- feeding it ---------------------------------------------------------------------

    def apply(self, operation: Any) -> None:
        """Apply one typed Alembic operation; what the model does not follow is ignored."""
        handler = getattr(self, f"_op_{type(operation).__name__}", None)
        if handler is None:
            return
        with contextlib.suppress(Exception):  # the model follows; it never stops a revision
            handler(operation)

    def _op_CreateTableOp(self, op: Any) -> None:
        self.add_table(replace_items(op, _unbound_indexes(op.columns)).to_table())

    def add_table(self, table: Any) -> None:
        from sqlalchemy import CheckConstraint, ForeignKeyConstraint, UniqueConstraint

        model = TableModel(table.name, _schema_of(table.schema, self), comment=table.comment)
        for column in table.columns:
            model.columns[column.name] = _column_model(column)
        pk = table.primary_key
        model.pk = [c.name for c in pk.columns]
        if model.pk:
            model.pk_name = _name(pk.name) or self._pk_name(table.name)
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                cols = [c.name for c in constraint.columns]
                model.uniques.append((_name(constraint.name)
                                      or self._unique_name(table.name, cols), cols))  # fmt: skip
            elif isinstance(constraint, ForeignKeyConstraint):
                self._add_fk(model, constraint)
            elif isinstance(constraint, CheckConstraint):
                model.checks.append((_name(constraint.name), _sql_text(constraint.sqltext)))
        for index in table.indexes:
            model.indexes.append(_index_model(index, table.name))
        self.tables[self.key(table.name, table.schema)] = model

    def _add_fk(self, model: TableModel, constraint: Any) -> None:
        elements = list(constraint.elements)
        if not elements:
            return
        tokens = [_fk_tokens(e) for e in elements]
        schema, referred, _ = tokens[0]
        cols = [e.parent.name if e.parent is not None else str(e.parent) for e in elements]
        name = _name(constraint.name) or self._fk_name(model, cols)
        options = {k: v for k, v in (("ondelete", constraint.ondelete),
                                     ("onupdate", constraint.onupdate)) if v}  # fmt: skip
        model.foreign_keys.append(ForeignKeyModel(name, cols, schema, referred,
                                                  [t[2] for t in tokens], options))  # fmt: skip

    def _unique_name(self, table: str, cols: list[str]) -> str | None:
        template = _UNIQUE_NAMES.get(self.dialect)
        return template.format(table=table, column="_".join(cols)) if template else None

    def _fk_name(self, model: TableModel, cols: list[str]) -> str | None:
        template = _FK_NAMES.get(self.dialect)
        if not template:
            return None
        n = len(model.foreign_keys) + 1
        return template.format(table=model.name, column="_".join(cols), n=n)

    def _op_DropTableOp(self, op: Any) -> None:
        self.tables.pop(self.key(op.table_name, op.schema), None)

    def _op_RenameTableOp(self, op: Any) -> None:
        model = self.tables.pop(self.key(op.table_name, op.schema))
        old = model.name
        model.name = op.new_table_name
        self.tables[self.key(op.new_table_name, op.schema)] = model
        for other in self.tables.values():
            for fk in other.foreign_keys:
                if fk.referred_table == old and fk.referred_schema == model.schema:
                    fk.referred_table = op.new_table_name

    def _op_AddColumnOp(self, op: Any) -> None:
        model = self._table(op.table_name, op.schema)
        column = op.column
        model.columns[column.name] = _column_model(column)
        if column.primary_key:
            model.pk.append(column.name)
            model.pk_name = model.pk_name or self._pk_name(model.name)
        if column.unique and not column.index:
            model.uniques.append((self._unique_name(model.name, [column.name]), [column.name]))
        if column.index:
            name = f"ix_{model.name}_{column.name}"
            model.indexes.append(IndexModel(name, [column.name], bool(column.unique)))
        for fk in column.foreign_keys:
            if fk.constraint is not None:
                self._add_fk(model, fk.constraint)

    def _op_DropColumnOp(self, op: Any) -> None:
        self._table(op.table_name, op.schema).drop_column(op.column_name)

    def _op_AlterColumnOp(self, op: Any) -> None:
        model = self._table(op.table_name, op.schema)
        column = model.columns[op.column_name]
        if op.modify_type is not None:
            column.type = _type(op.modify_type)
        if op.modify_nullable is not None:
            column.nullable = bool(op.modify_nullable)
        if op.modify_server_default is not False:
            column.default = _default_text(op.modify_server_default)
        if op.modify_comment is not False:
            column.comment = op.modify_comment
        if op.modify_name:
            model.rename_column(op.column_name, op.modify_name)

    def _op_CreateIndexOp(self, op: Any) -> None:
        model = self._table(op.table_name, op.schema)
        model.indexes = [i for i in model.indexes if i.name != op.index_name]
        columns: list[str | None] = []
        expressions: list[str] = []
        for col in op.columns:
            if isinstance(col, str):
                columns.append(col)
            elif getattr(col, "name", None) and type(col).__name__ == "Column":
                columns.append(col.name)
            else:
                columns.append(None)
                expressions.append(_sql_text(col))
        model.indexes.append(IndexModel(op.index_name, columns, bool(op.unique), expressions))

    def _op_DropIndexOp(self, op: Any) -> None:
        for model in self._tables_for(op.table_name, op.schema):
            model.indexes = [i for i in model.indexes if i.name != op.index_name]
            # MySQL: dropping the index of a unique constraint drops the constraint.
            model.uniques = [(n, c) for n, c in model.uniques if n != op.index_name]

    def _op_CreateUniqueConstraintOp(self, op: Any) -> None:
        model = self._table(op.table_name, op.schema)
        cols = [str(c) for c in op.columns]
        model.uniques.append((op.constraint_name or self._unique_name(model.name, cols), cols))

    def _op_CreatePrimaryKeyOp(self, op: Any) -> None:
        model = self._table(op.table_name, op.schema)
        model.pk = [str(c) for c in op.columns]
        model.pk_name = op.constraint_name or self._pk_name(model.name)
        for col in model.pk:
            if col in model.columns:
                model.columns[col].nullable = False

    def _op_CreateForeignKeyOp(self, op: Any) -> None:
        model = self._table(op.source_table, op.kw.get("source_schema"))
        cols = [str(c) for c in op.local_cols]
        options = {k: op.kw[k] for k in ("ondelete", "onupdate") if op.kw.get(k)}
        model.foreign_keys.append(ForeignKeyModel(
            op.constraint_name or self._fk_name(model, cols), cols,
            _schema_of(op.kw.get("referent_schema"), self), op.referent_table,
            [str(c) for c in op.remote_cols], options,
        ))  # fmt: skip

    def _op_CreateCheckConstraintOp(self, op: Any) -> None:
        model = self._table(op.table_name, op.schema)
        model.checks.append((op.constraint_name, _sql_text(op.condition)))

    def _op_DropConstraintOp(self, op: Any) -> None:
        name = op.constraint_name
        kind = op.constraint_type
        for model in self._tables_for(op.table_name, op.schema):
            if kind in (None, "foreignkey"):
                model.foreign_keys = [f for f in model.foreign_keys if f.name != name]
            if kind in (None, "unique"):
                model.uniques = [(n, c) for n, c in model.uniques if n != name]
                if self.dialect == "mysql":
                    model.indexes = [i for i in model.indexes if i.name != name]
            if kind in (None, "check"):
                model.checks = [(n, s) for n, s in model.checks if n != name]
            if kind == "primary" or (kind is None and name is not None and name == model.pk_name):
                model.pk, model.pk_name = [], None

    def _op_ExecuteSQLOp(self, op: Any) -> None:
        """Raw DDL (``op.execute("ALTER TABLE … RENAME TO …")``), read with sqlglot."""
        sql = op.sqltext if isinstance(op.sqltext, str) else getattr(op.sqltext, "text", None)
        if not isinstance(sql, str) or not _DDL_WORDS.search(sql):
            return
        import sqlglot
        from sqlglot import exp

        from schemashift.sql.sqlglot_adapter import _silence_sqlglot

        _silence_sqlglot()  # its "falling back to a Command" warnings are not the user's
        read = {"postgresql": "postgres"}.get(self.dialect, self.dialect)
        for tree in sqlglot.parse(sql, read=read):
            if tree is None:
                continue
            with contextlib.suppress(Exception):
                self._apply_sql(tree, exp)

    def _apply_sql(self, tree: Any, exp: Any) -> None:
        kind = str(tree.args.get("kind") or "").upper()
        if isinstance(tree, exp.Alter) and kind == "TABLE":
            table = tree.this
            model = self._table(table.name, table.args.get("db") and table.db)
            for action in tree.args.get("actions") or []:
                if isinstance(action, exp.AlterRename):
                    old = model.name
                    self.tables.pop(self.key(old, model.schema))
                    model.name = action.this.name
                    self.tables[self.key(model.name, model.schema)] = model
                elif isinstance(action, exp.RenameColumn):
                    model.rename_column(action.this.name, action.args["to"].name)
                elif isinstance(action, exp.ColumnDef):
                    column = self._sql_column(action, exp)
                    model.columns[column.name] = column
                elif isinstance(action, exp.Drop):
                    for col in action.args.get("tables") or []:
                        model.drop_column(col.name)
                elif isinstance(action, exp.AlterColumn):
                    column = model.columns[action.this.name]
                    if action.args.get("dtype") is not None:
                        column.type = self._sql_type(action.args["dtype"].sql())
                    if action.args.get("allow_null") is not None:
                        column.nullable = bool(action.args["allow_null"])
        elif isinstance(tree, exp.Create) and kind == "TABLE" and isinstance(tree.this, exp.Schema):
            table = tree.this.this
            model = TableModel(table.name, _schema_of(table.args.get("db") and table.db, self))
            for item in tree.this.expressions:
                if isinstance(item, exp.ColumnDef):
                    column = self._sql_column(item, exp)
                    model.columns[column.name] = column
                    if any(isinstance(c.kind, exp.PrimaryKeyColumnConstraint)
                           for c in item.constraints):  # fmt: skip
                        model.pk.append(column.name)
                elif isinstance(item, exp.PrimaryKey):
                    model.pk = [c.name for c in item.expressions]
            if model.pk:
                model.pk_name = self._pk_name(model.name)
            self.tables[self.key(model.name, model.schema)] = model
        elif isinstance(tree, exp.Create) and kind == "INDEX":
            index = tree.this
            model = self._table(index.args["table"].name, None)
            params = index.args.get("params")
            cols: list[str | None] = [
                o.this.name if isinstance(o.this, exp.Column) else None
                for o in (params.args.get("columns") or [] if params else [])
            ]  # fmt: skip
            model.indexes.append(IndexModel(index.name, cols, bool(tree.args.get("unique"))))
        elif isinstance(tree, exp.Drop) and kind in ("TABLE", "INDEX"):
            for target in tree.args.get("tables") or []:
                if kind == "TABLE":
                    self.tables.pop(self.key(target.name, target.args.get("db") and target.db),
                                    None)  # fmt: skip
                else:
                    for model in self.tables.values():
                        model.indexes = [i for i in model.indexes if i.name != target.name]

    def _sql_column(self, coldef: Any, exp: Any) -> ColumnModel:
        kind = coldef.args.get("kind")
        column = ColumnModel(coldef.name, self._sql_type(kind.sql() if kind else ""))
        for constraint in coldef.constraints:
            if isinstance(constraint.kind, (exp.NotNullColumnConstraint,
                                            exp.PrimaryKeyColumnConstraint)):  # fmt: skip
                column.nullable = bool(constraint.kind.args.get("allow_null"))
            elif isinstance(constraint.kind, exp.DefaultColumnConstraint):
                column.default = constraint.kind.this.sql()
        return column

    def _sql_type(self, text: str) -> Any:
        """The SQLAlchemy type a database would reflect for a type written in SQL."""
        from sqlalchemy import types
        from sqlalchemy.dialects import registry

        base = text.split("(")[0].strip().lower()
        with contextlib.suppress(Exception):
            names = registry.load(self.dialect).ischema_names
            found = names.get(base) or names.get(base.split()[0])
            if found is not None:
                return found()
        return types.NullType()

    def _op_CreateTableCommentOp(self, op: Any) -> None:
        self._table(op.table_name, op.schema).comment = op.comment

    def _op_DropTableCommentOp(self, op: Any) -> None:
        self._table(op.table_name, op.schema).comment = None

    def _table(self, name: str, schema: str | None) -> TableModel:
        return self.tables[self.key(name, schema)]

    def _tables_for(self, name: str | None, schema: str | None) -> list[TableModel]:
        if name is None:  # drop_index(name) without its table: any table that has it
            return list(self.tables.values())
        model = self.table(name, schema)
        return [model] if model is not None else []

    # -- answering ----------------------------------------------------------------------

    def inserted_key(self, insert: Any) -> tuple[Any, ...]:
        """The primary key one row of ``insert`` gets on the database the history builds:
        the value the statement gives, else the next id of an integer key (1, 2, … per
        table, as an empty table's autoincrement counts), else None."""
        self.answers += 1
        table = insert.table
        given: dict[str, Any] = {}
        for column, value in (getattr(insert, "_values", None) or {}).items():
            given[str(getattr(column, "key", column))] = getattr(value, "value", value)
        key: list[Any] = []
        for column in getattr(table, "primary_key", ()):
            value = given.get(column.key)
            if value is None and _python_type(column.type) is int:
                counter = (table.schema, table.name)
                value = self.row_ids[counter] = self.row_ids.get(counter, 0) + 1
            key.append(value)
        return tuple(key)

    def to_table(self, name: str, schema: str | None, metadata: Any) -> Any:
        """A SQLAlchemy ``Table`` as reflection would give it (None: not in the model)."""
        import sqlalchemy as sa

        model = self.table(name, schema)
        if model is None:
            return None
        self.answers += 1
        items: list[Any] = []
        for col in model.columns.values():
            items.append(sa.Column(
                col.name, _fresh(_reflected(col.type, self.dialect)), nullable=col.nullable,
                server_default=sa.text(col.default) if col.default is not None else None,
                autoincrement=_any(col.autoincrement), comment=col.comment,
            ))  # fmt: skip
        if model.pk:
            items.append(sa.PrimaryKeyConstraint(*model.pk, name=model.pk_name))
        for uname, cols in model.uniques:
            items.append(sa.UniqueConstraint(*cols, name=uname))
        for fk in model.foreign_keys:
            prefix = f"{fk.referred_schema}." if fk.referred_schema else ""
            items.append(sa.ForeignKeyConstraint(
                fk.columns, [f"{prefix}{fk.referred_table}.{c}" for c in fk.referred_columns],
                name=fk.name, **fk.options,
            ))  # fmt: skip
        for cname, sqltext in model.checks:
            items.append(sa.CheckConstraint(sa.text(sqltext), name=cname))
        for index in model.indexes:
            if index.name and all(index.columns):
                items.append(sa.Index(index.name, *(str(c) for c in index.columns),
                                     unique=index.unique))  # fmt: skip
        return sa.Table(model.name, metadata, *items, schema=schema, comment=model.comment)


def replace_items(op: Any, items: list[Any]) -> Any:
    """A shallow copy of a ``CreateTableOp`` with other items (columns, constraints …)."""
    import copy

    clone = copy.copy(op)
    clone.columns = items
    return clone


def _unbound_indexes(items: Any) -> list[Any]:
    """``create_table``'s items, with an ``sa.Index`` passed among them copied: running
    the operation bound it to the table Alembic built, and an index belongs to one table
    (the model's own table would be refused: "cannot be associated with table")."""
    import sqlalchemy as sa

    out: list[Any] = []
    for item in items:
        if isinstance(item, sa.Index) and item.table is not None:
            exprs = [e.name if isinstance(e, sa.Column) else e for e in item.expressions]
            item = sa.Index(item.name, *exprs, unique=bool(item.unique), **item.kwargs)
        out.append(item)
    return out


def _schema_of(schema: str | None, model: SchemaModel) -> str | None:
    return None if schema in (None, "", model.default_schema) else schema


def _name(name: Any) -> str | None:
    """A constraint's name, or None when it has none (SQLAlchemy's deferred-name marker)."""
    if name is None or type(name).__name__ in ("_NoneName", "_defer_none_name"):
        return None
    return str(name)


def _any(value: Any) -> Any:
    return value


def _type(type_: Any) -> Any:
    return type_() if isinstance(type_, type) else type_


def _reflected(type_: Any, dialect: str) -> Any:
    """The type reflection gives back: ``Uuid`` is stored as CHAR(32) where it is not native."""
    from sqlalchemy import CHAR, Uuid

    type_ = _type(type_)
    if isinstance(type_, Uuid) and dialect in ("mysql", "sqlite"):
        return CHAR(32)
    return type_


def _python_type(type_: Any) -> type | None:
    try:
        return _type(type_).python_type  # type: ignore[no-any-return]
    except (NotImplementedError, AttributeError):
        return None


def _fresh(type_: Any) -> Any:
    """A copy of a type for a new Table (Enum and other schema types bind to one table)."""
    type_ = _type(type_)
    try:
        return type_.copy()
    except Exception:
        return type_


def _sql_text(clause: Any) -> str:
    if isinstance(clause, str):
        return clause
    try:
        return str(clause.compile(compile_kwargs={"literal_binds": True}))
    except Exception:
        return str(clause)


def _default_text(default: Any) -> str | None:
    """A server default as the SQL text reflection returns."""
    if default is None:
        return None
    arg = getattr(default, "arg", default)  # DefaultClause → its text or clause
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    return _sql_text(arg)


def _column_model(column: Any) -> ColumnModel:
    default = column.server_default
    return ColumnModel(column.name, _type(column.type), bool(column.nullable),
                       _default_text(default) if default is not None else None,
                       column.autoincrement, column.comment)  # fmt: skip


def _index_model(index: Any, table: str) -> IndexModel:
    columns: list[str | None] = []
    expressions: list[str] = []
    for expr in index.expressions:
        name = getattr(expr, "name", None)
        if isinstance(expr, str):
            columns.append(expr)
        elif name and type(expr).__name__ == "Column":
            columns.append(name)
        else:
            columns.append(None)
            expressions.append(_sql_text(expr))
    name = _name(index.name)
    if name is None and columns and columns[0]:
        name = f"ix_{table}_{columns[0]}"  # the default naming convention
    return IndexModel(name, columns, bool(index.unique), expressions)


def _fk_tokens(element: Any) -> tuple[str | None, str, str]:
    """(schema, table, column) a ForeignKey points at, without resolving it."""
    spec = element._get_colspec() if hasattr(element, "_get_colspec") else element.target_fullname
    parts = str(spec).split(".")
    if len(parts) >= 3:
        return ".".join(parts[:-2]), parts[-2], parts[-1]
    return None, parts[0], parts[1] if len(parts) > 1 else ""


# -- the bind and the inspector --------------------------------------------------------


class EmptyResult:
    """What a query on the scratch database returns: no rows (and nothing changed)."""

    rowcount = 0
    returns_rows = True
    _attributes: dict[str, Any] = {}  # what an ORM Query reads off its result
    lastrowid = None
    inserted_primary_key = None
    closed = False

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __enter__(self) -> EmptyResult:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _self(self, *args: Any, **kwargs: Any) -> EmptyResult:
        return self

    scalars = mappings = unique = columns = tuples = yield_per = _self

    @property
    def t(self) -> EmptyResult:
        return self

    def _none(self, *args: Any, **kwargs: Any) -> None:
        return None

    fetchone = first = scalar = one_or_none = scalar_one_or_none = close = _none

    def _empty(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    fetchall = fetchmany = all = keys = partitions = _empty

    def one(self) -> Any:
        from sqlalchemy.exc import NoResultFound

        raise NoResultFound("No row was found when one was required (offline: no rows)")

    scalar_one = one


class OneRowResult(EmptyResult):
    """What an aggregate query returns on tables without rows: exactly one row."""

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.row = row
        self.rowcount = 1

    def __iter__(self) -> Iterator[Any]:
        return iter([self.row])

    def _row(self, *args: Any, **kwargs: Any) -> Any:
        return self.row

    fetchone = first = one_or_none = one = _row  # type: ignore[assignment]

    def _scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self.row[0]

    scalar = scalar_one_or_none = scalar_one = _scalar  # type: ignore[assignment]

    def _rows(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [self.row]

    fetchall = fetchmany = all = _rows  # type: ignore[assignment]


class InsertResult(EmptyResult):
    """What an INSERT of one row returns: its primary key (a revision inserting a parent
    row reads it to insert the children)."""

    rowcount = 1

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.inserted_primary_key = key  # type: ignore[assignment]
        self.lastrowid = next((v for v in key if isinstance(v, int)), None)  # type: ignore[assignment]


class FakeTransaction:
    """A transaction on the fake bind: nothing to commit."""

    is_active = True

    def __enter__(self) -> FakeTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _nothing(self, *args: Any, **kwargs: Any) -> None:
        return None

    commit = rollback = close = _nothing


class FakeBind:
    """What ``op.get_bind()`` returns offline: the target dialect, answers from the model.

    ``sa.inspect(bind)`` gives a ``ModelInspector``; a query returns an ``EmptyResult``; a
    data change is handed to ``emit`` (written to the revision's SQL). Anything else is the
    offline mock connection's."""

    def __init__(self, mock: Any, model: SchemaModel, emit: Callable[[Any], None]) -> None:
        self._mock = mock
        self.model = model
        self._emit = emit
        self.dialect = mock.dialect
        self.info: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mock, name)

    # Engine-like
    @property
    def name(self) -> str:
        return str(self.dialect.name)

    @property
    def engine(self) -> FakeBind:
        return self

    @property
    def url(self) -> Any:
        from sqlalchemy.engine import make_url

        return make_url(f"{self.dialect.name}://")

    def connect(self) -> FakeBind:
        return self

    def __enter__(self) -> FakeBind:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def begin(self) -> FakeTransaction:
        return FakeTransaction()

    begin_nested = get_transaction = get_nested_transaction = begin

    def execution_options(self, **kwargs: Any) -> FakeBind:
        return self

    def in_transaction(self) -> bool:
        return False  # as the offline mock connection (autocommit_block reads it)

    def _nothing(self, *args: Any, **kwargs: Any) -> None:
        return None

    commit = rollback = close = invalidate = _nothing
    closed = invalidated = False

    def get_isolation_level(self) -> str:
        return "READ COMMITTED"

    def has_table(self, table_name: str, schema: str | None = None) -> bool:  # SA 1.x Engine
        self.model.answers += 1
        return self.model.table(table_name, schema) is not None

    def run_callable(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    # Execution
    def execute(self, statement: Any, parameters: Any = None, *args: Any,
                **kwargs: Any) -> EmptyResult:  # fmt: skip
        from sqlalchemy import text
        from sqlalchemy.sql.elements import TextClause

        if isinstance(statement, str):
            statement = text(statement)
        if isinstance(parameters, (list, tuple)):
            parameters = parameters[0] if parameters else None
        if isinstance(parameters, dict) and parameters:
            with contextlib.suppress(Exception):
                if isinstance(statement, TextClause):
                    known = statement._bindparams
                    statement = statement.bindparams(**{k: v for k, v in parameters.items()
                                                        if k in known})  # fmt: skip
                else:
                    statement = statement.params(parameters)
        if _is_read(statement):
            self.model.answers += 1
            row = _aggregate_row(statement, self.dialect)
            return EmptyResult() if row is None else OneRowResult(row)
        self._emit(statement)
        if getattr(statement, "is_insert", False):
            return InsertResult(self.model.inserted_key(statement))
        return EmptyResult()

    def exec_driver_sql(self, statement: str, parameters: Any = None, *args: Any,
                        **kwargs: Any) -> EmptyResult:  # fmt: skip
        from sqlalchemy import text

        return self.execute(text(statement.replace("%%", "%")))

    def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self.execute(statement, *args, **kwargs)
        return None

    def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> EmptyResult:
        return self.execute(statement, *args, **kwargs)

    def inspector(self) -> ModelInspector:
        return ModelInspector.for_bind(self)


def _aggregate_row(statement: Any, dialect: Any) -> tuple[Any, ...] | None:
    """The one row an aggregate query (``SELECT COUNT(*) FROM t``, no ``GROUP BY``) gives
    on tables without rows: ``COUNT`` is 0, ``MAX``/``SUM``/… are NULL. None: not one."""
    import sqlglot
    from sqlglot import exp

    from schemashift.sql.sqlglot_adapter import _silence_sqlglot

    _silence_sqlglot()
    try:
        sql = statement.text if isinstance(getattr(statement, "text", None), str) else str(
            statement.compile(dialect=dialect))
        read = {"postgresql": "postgres"}.get(dialect.name, dialect.name)
        tree = sqlglot.parse_one(sql, read=read)
    except Exception:
        return None
    if not isinstance(tree, exp.Select) or tree.args.get("group") or not tree.expressions:
        return None
    row: list[Any] = []
    for item in tree.expressions:
        item = item.unalias()
        if not isinstance(item, exp.AggFunc):
            return None
        row.append(0 if isinstance(item, exp.Count) else None)
    return tuple(row)


def _is_read(statement: Any) -> bool:
    if getattr(statement, "is_select", False):
        return True
    text = getattr(statement, "text", None)
    if isinstance(text, str):
        words = text.lstrip(" \t\r\n(").split(None, 1)
        return bool(words) and words[0].upper() in _READS
    return False


class ModelInspector(Inspector):
    """An ``Inspector`` whose every answer comes from the schema model."""

    bind: Any
    model: SchemaModel

    @classmethod
    def for_bind(cls, bind: FakeBind) -> ModelInspector:
        insp = cls.__new__(cls)
        attrs: Any = insp  # its bind is the fake one, not an Engine or Connection
        attrs.bind = attrs.engine = bind
        insp.dialect = bind.dialect
        insp.info_cache = {}
        insp._op_context_requires_connect = False
        insp.model = bind.model
        return insp

    @contextlib.contextmanager
    def _operation_context(self) -> Iterator[Any]:
        yield self.bind

    @contextlib.contextmanager
    def _inspection_context(self) -> Iterator[ModelInspector]:
        yield self

    def clear_cache(self) -> None:
        return None

    @property
    def default_schema_name(self) -> str | None:  # type: ignore[override]
        return self.model.default_schema

    def _get(self, table_name: str, schema: str | None) -> TableModel:
        from sqlalchemy.exc import NoSuchTableError

        self.model.answers += 1
        model = self.model.table(table_name, schema)
        if model is None:
            raise NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        return model

    def get_schema_names(self, **kw: Any) -> list[str]:
        names = {s for s, _ in self.model.tables if s}
        return sorted(names | ({self.model.default_schema} if self.model.default_schema else set()))

    def has_schema(self, schema_name: str, **kw: Any) -> bool:
        return schema_name in self.get_schema_names()

    def get_table_names(self, schema: str | None = None, **kw: Any) -> list[str]:
        self.model.answers += 1
        wanted = _schema_of(schema, self.model)
        return sorted(t.name for (s, _), t in self.model.tables.items() if s == wanted)

    def has_table(self, table_name: str, schema: str | None = None, **kw: Any) -> bool:
        self.model.answers += 1
        return self.model.table(table_name, schema) is not None

    def has_column(self, table_name: str, column_name: str, schema: str | None = None) -> bool:
        model = self.model.table(table_name, schema)
        self.model.answers += 1
        return model is not None and column_name in model.columns

    def has_index(self, table_name: str, index_name: str, schema: str | None = None,
                  **kw: Any) -> bool:  # fmt: skip
        return any(i.name == index_name for i in self._get(table_name, schema).indexes)

    def has_sequence(self, sequence_name: str, schema: str | None = None, **kw: Any) -> bool:
        return False

    def _no_names(self, *args: Any, **kw: Any) -> list[str]:
        return []

    get_view_names = get_materialized_view_names = get_sequence_names = _no_names
    get_temp_table_names = get_temp_view_names = _no_names

    def get_table_options(self, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict[str, Any]:  # fmt: skip
        self._get(table_name, schema)
        return {}

    def get_columns(self, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[Any]:  # fmt: skip
        return [
            {"name": c.name, "type": _reflected(c.type, self.model.dialect), "nullable": c.nullable,
             "default": c.default,
             "autoincrement": c.autoincrement, "comment": c.comment}
            for c in self._get(table_name, schema).columns.values()
        ]  # fmt: skip

    def get_pk_constraint(self, table_name: str, schema: str | None = None,
                          **kw: Any) -> Any:  # fmt: skip
        model = self._get(table_name, schema)
        return {"constrained_columns": list(model.pk), "name": model.pk_name if model.pk else None}

    def get_foreign_keys(self, table_name: str, schema: str | None = None,
                         **kw: Any) -> list[Any]:  # fmt: skip
        return [
            {"name": f.name, "constrained_columns": list(f.columns),
             "referred_schema": f.referred_schema, "referred_table": f.referred_table,
             "referred_columns": list(f.referred_columns), "options": dict(f.options)}
            for f in self._get(table_name, schema).foreign_keys
        ]  # fmt: skip

    def get_indexes(self, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[Any]:  # fmt: skip
        out: list[Any] = []
        for i in self._get(table_name, schema).indexes:
            entry: dict[str, Any] = {"name": i.name, "column_names": list(i.columns),
                                     "unique": i.unique, "dialect_options": {}}  # fmt: skip
            if i.expressions:
                entry["expressions"] = [c if c is not None else e
                                        for c, e in zip(i.columns, _pad(i), strict=False)]  # fmt: skip
            out.append(entry)
        return out

    def get_unique_constraints(self, table_name: str, schema: str | None = None,
                               **kw: Any) -> list[Any]:  # fmt: skip
        return [{"name": n, "column_names": list(c)}
                for n, c in self._get(table_name, schema).uniques]  # fmt: skip

    def get_check_constraints(self, table_name: str, schema: str | None = None,
                              **kw: Any) -> list[Any]:  # fmt: skip
        return [{"name": n, "sqltext": s} for n, s in self._get(table_name, schema).checks]

    def get_table_comment(self, table_name: str, schema: str | None = None,
                          **kw: Any) -> Any:  # fmt: skip
        return {"text": self._get(table_name, schema).comment}

    def get_view_definition(self, view_name: str, schema: str | None = None, **kw: Any) -> Any:
        from sqlalchemy.exc import NoSuchTableError

        raise NoSuchTableError(view_name)

    def get_sorted_table_and_fkc_names(self, schema: str | None = None,
                                       **kw: Any) -> list[Any]:  # fmt: skip
        return [(name, []) for name in self.get_table_names(schema)] + [(None, [])]

    # The multi-table forms (what reflect_table and MetaData.reflect use).
    def _multi(self, method: Callable[..., Any], schema: str | None,
               filter_names: Any) -> dict[Any, Any]:  # fmt: skip
        names = self.get_table_names(schema) if filter_names is None else filter_names
        out: dict[Any, Any] = {}
        for name in names:
            if self.model.table(name, schema) is not None:
                out[(schema, name)] = method(name, schema)
        return out

    def get_multi_columns(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                          **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_columns, schema, filter_names)

    def get_multi_pk_constraint(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                                **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_pk_constraint, schema, filter_names)

    def get_multi_foreign_keys(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                               **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_foreign_keys, schema, filter_names)

    def get_multi_indexes(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                          **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_indexes, schema, filter_names)

    def get_multi_unique_constraints(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                                     **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_unique_constraints, schema, filter_names)

    def get_multi_table_comment(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                                **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_table_comment, schema, filter_names)

    def get_multi_check_constraints(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                                    **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_check_constraints, schema, filter_names)

    def get_multi_table_options(self, schema: str | None = None, filter_names: Any = None,  # type: ignore[override]
                                **kw: Any) -> Any:  # fmt: skip
        return self._multi(self.get_table_options, schema, filter_names)


def _pad(index: IndexModel) -> list[str]:
    """The expressions of an index aligned with its columns (one per None column)."""
    it = iter(index.expressions)
    return [next(it, "") if c is None else "" for c in index.columns]


_registered = False


def _register_inspection() -> None:
    global _registered
    if _registered:
        return
    from sqlalchemy.inspection import _inspects

    _inspects(FakeBind)(lambda bind: bind.inspector())  # type: ignore[no-untyped-call]
    _registered = True


@contextlib.contextmanager
def modelling(model: SchemaModel, context: Any, emit: Callable[[Any], None]) -> Iterator[None]:
    """While the block runs (one revision's offline ``upgrade()``): every operation invoked
    is applied to ``model``, ``op.get_bind()`` / ``context.get_bind()`` answer from it, and
    batch mode copies tables from it."""
    from alembic.operations import batch
    from alembic.operations.base import AbstractOperations
    from sqlalchemy.orm import Session

    _register_inspection()
    original_invoke = AbstractOperations.invoke
    original_init = batch.BatchOperationsImpl.__init__
    depth = 0

    def invoke(self: Any, operation: Any) -> Any:
        nonlocal depth
        depth += 1
        try:
            result = original_invoke(self, operation)
        finally:
            depth -= 1
        if depth == 0:
            model.apply(operation)
        return result

    def batch_init(self: Any, operations: Any, table_name: str, schema: str | None,
                   recreate: str, copy_from: Any, *args: Any, **kwargs: Any) -> None:  # fmt: skip
        if copy_from is None and operations.migration_context.as_sql:
            from sqlalchemy import MetaData

            # The table as it is before this batch's operations (they are applied to the
            # model as they are invoked, before the batch runs them).
            copy_from = model.to_table(table_name, schema, MetaData())
            # (table_args, table_kwargs, reflect_args, reflect_kwargs, naming_convention, …)
            convention = args[4] if len(args) > 4 else kwargs.get("naming_convention")
            if copy_from is not None and convention:
                from alembic.util.sqla_compat import _conv_constraint_names

                # As Alembic does with a reflected table: names the database has are
                # final, the convention names the constraints it left unnamed.
                _conv_constraint_names(copy_from)
                copy_from = copy_from.to_metadata(MetaData(naming_convention=convention))
        init: Any = original_init
        init(self, operations, table_name, schema, recreate, copy_from, *args, **kwargs)

    original_execute = Session.execute

    def session_execute(self: Any, statement: Any, params: Any = None, *args: Any,
                        **kwargs: Any) -> Any:  # fmt: skip
        # An ORM session on the fake bind: its queries find no rows, its changes are SQL.
        if isinstance(self.bind, FakeBind):
            return self.bind.execute(statement, params)
        return original_execute(self, statement, params, *args, **kwargs)

    original_construct = Inspector.__dict__["_construct"]

    def construct(cls: Any, init: Callable[..., Any], bind: Any) -> Any:
        # Inspector.from_engine(bind) / Inspector(bind) (SQLAlchemy 1.x style) on the fake
        # bind: the model's inspector, not the dialect's (which would query a connection).
        if isinstance(bind, FakeBind):
            return bind.inspector()
        return original_construct.__func__(cls, init, bind)

    saved = (context.connection, context.impl.connection)
    bind = FakeBind(context.connection, model, emit)
    context.connection = context.impl.connection = bind
    AbstractOperations.invoke = invoke  # type: ignore[method-assign]
    batch.BatchOperationsImpl.__init__ = batch_init  # type: ignore[method-assign]
    Session.execute = session_execute  # type: ignore[method-assign,assignment]
    Inspector._construct = classmethod(construct)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        AbstractOperations.invoke = original_invoke  # type: ignore[method-assign]
        batch.BatchOperationsImpl.__init__ = original_init  # type: ignore[method-assign]
        Session.execute = original_execute  # type: ignore[method-assign]
        Inspector._construct = original_construct  # type: ignore[method-assign]
        context.connection, context.impl.connection = saved
