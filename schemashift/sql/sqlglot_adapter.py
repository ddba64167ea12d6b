"""The general-purpose parse path: sqlglot's AST of one statement → ``Action`` values.

The fast recogniser (``recognize.py``) handles the common DDL shapes; whatever it declines
comes here. sqlglot is imported lazily inside :func:`actions_from_sqlglot` so importing this
module stays cheap, and its logger is silenced (it warns on stderr whenever it falls back to
an opaque ``Command``).

The contract is total: every input yields at least one ``Action`` and nothing raises. Text
sqlglot cannot parse, and its opaque ``Command`` fallback, become ``raw`` actions whose
``reason`` says why; nodes that parse but have no mapping become ``raw`` naming the node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from schemashift.sql.actions import Action, ColumnDef, raw
from schemashift.sqltext.names import canonical_part

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = ["actions_from_sqlglot"]

_DIALECT_ALIASES = {"postgresql": "postgres", "pg": "postgres", "mariadb": "mysql"}

# Patterns are kept as text and compiled on first use (re caches them) so that importing
# this module costs nothing beyond its bytecode.
_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"
# sqlglot's messages quote tokens as <Token token_type: TokenType.X, text: (, line: …>.
_TOKEN_REPR = r"<Token token_type: [^,]*, text: (.*?), line: [^>]*>"
_LEADING_NOISE = r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*"
# Transaction control sqlglot misreads (START TRANSACTION / SAVEPOINT a / END TRANSACTION are
# parsed as column aliases, ABORT as a column, RELEASE SAVEPOINT fails to parse).
# Matched against the text with its whitespace collapsed to single spaces (no backtracking).
_TRANSACTION_WORDS = (
    r"(?:(START TRANSACTION|BEGIN)|(END|COMMIT)|(ABORT|ROLLBACK)|(SAVEPOINT|RELEASE))"
    r"(?: (?:TRANSACTION|WORK|SAVEPOINT))?(?: (\w+))?"
    # Transaction modes: START TRANSACTION ISOLATION LEVEL …, BEGIN READ ONLY, … AND CHAIN.
    r"(?: (?:ISOLATION|READ|NOT|DEFERRABLE|CHAIN|NO|LEVEL|ONLY|WRITE|SERIALIZABLE|REPEATABLE"
    r"|COMMITTED|UNCOMMITTED|CONSISTENT|SNAPSHOT|WITH|AND)\b.*)? ?;?$"
)
# One identifier, optionally qualified: a, `a`, "A", s.a, `s`.`a`.
_NAME = r'(?:`[^`]*`|"[^"]*"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:`[^`]*`|"[^"]*"|[A-Za-z_][\w$]*))*'
_RENAME_PAIR = rf"^\s*({_NAME})\s+TO\s+({_NAME})\s*$"
_NAME_PART = r'`([^`]*)`|"([^"]*)"|([A-Za-z_][\w$]*)'
# SET forms sqlglot gives up on, e.g. ``SET search_path TO a, b``.
_SET_COMMAND = r"^(?:(SESSION|LOCAL) )?([A-Za-z_][\w.]*) ?(?:=|\bTO\b) ?(.*?) ?;?$"
_RESET_COMMAND = r"^\s*([A-Za-z_][\w.]*|ALL)\s*;?$"

_quiet_done = False


def actions_from_sqlglot(sql: str, dialect: str) -> list[Action]:
    """Parse ONE statement with sqlglot (dialect: 'postgres' | 'mysql' | 'sqlite') and map
    its AST to Actions.

    Never raises; always returns at least one action (``raw`` when not understood).
    """
    read = _DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    try:
        _silence_sqlglot()
        import sqlglot
        from sqlglot import exp

        parsed = sqlglot.parse(sql, read=read)
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.EndStatement)]
    except Exception as error:  # ParseError, TokenError, RecursionError, unknown dialect, …
        return _transaction_fallback(sql) or [raw(f"could not parse: {_first_line(error)}")]
    if not statements:
        return [raw("could not parse: empty statement (only comments or whitespace)")]
    try:
        first = _statement(statements[0], sql, read)
        if len(statements) == 1 or all(a.kind == "raw" for a in first):
            # A statement sqlglot split in several (a compound body after an opaque head,
            # e.g. SQLite CREATE TRIGGER … BEGIN …; END) is judged by its head alone.
            actions = first
        else:
            actions = first + [a for s in statements[1:] for a in _statement(s, sql, read)]
    except Exception as error:  # a mapping bug must not crash the linter
        detail = _first_line(error)
        return [raw(f"could not map the parsed statement: {type(error).__name__}: {detail}")]
    return actions or [raw("not understood: the parser returned no statement")]


# --------------------------------------------------------------------------- helpers


def _silence_sqlglot() -> None:
    """Keep sqlglot's 'Falling back to parsing as a Command' warnings off stderr."""
    global _quiet_done
    if not _quiet_done:
        import logging

        logging.getLogger("sqlglot").setLevel(logging.CRITICAL)
        _quiet_done = True


def _arg(node: exp.Expr, key: str) -> Any:
    """``node.args[key]``, with sqlglot's ``False`` placeholders read as absent."""
    value = node.args.get(key)
    return None if value is False else value


def _first_line(error: BaseException, width: int = 200) -> str:
    """The first line of an error message, without colour codes or internal reprs."""
    text = re.sub(_ANSI, "", str(error))
    text = re.sub(_TOKEN_REPR, r"'\1'", text)
    text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", text).strip()
    line = text.splitlines()[0].strip() if text else ""
    if len(line) > width:
        line = line[:width].rstrip() + " …"
    return line or type(error).__name__


def _lower_outside_quotes(text: str) -> str:
    """Lower-case ``text`` except inside '…', "…" and `…` (literals, quoted identifiers)."""
    out: list[str] = []
    quote: str | None = None
    for ch in text:
        if quote is not None:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        else:
            out.append(ch.lower())
    return "".join(out)


def _squeeze_commas(text: str) -> str:
    """``numeric(10, 2)`` → ``numeric(10,2)``, leaving quoted text alone."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        out.append(ch)
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == ",":
            while i + 1 < len(text) and text[i + 1] == " ":
                i += 1
        i += 1
    return "".join(out)


def _ident(node: object) -> str:
    """An identifier's text: unquoted → lower-case, quoted → as written."""
    from sqlglot import exp

    if node is None or node is False:
        return ""
    if isinstance(node, str):
        return node.lower()
    if isinstance(node, exp.Identifier):
        text = str(node.this)
        return canonical_part(text) if node.args.get("quoted") else text.lower()
    if isinstance(node, (exp.Column, exp.Ordered, exp.Schema, exp.ColumnDef)):
        return _ident(node.this)
    if isinstance(node, exp.Table):
        return _table(node) or ""
    if isinstance(node, (exp.Literal, exp.Var)):
        return str(node.name)
    if isinstance(node, exp.Expr):
        return _lower_outside_quotes(node.sql())
    return str(node).lower()


def _table(node: object) -> str | None:
    """``[catalog.][schema.]name`` of a table reference, each part normalised by ``_ident``."""
    from sqlglot import exp

    if node is None or node is False:
        return None
    if isinstance(node, exp.Schema):
        return _table(node.this)
    if isinstance(node, exp.Table):
        parts = [node.args.get(key) for key in ("catalog", "db", "this")]
        names = [_ident(p) for p in parts if p is not None]
        return ".".join(n for n in names if n) or None
    if isinstance(node, (exp.OnProperty, exp.UserDefinedFunction)):
        return _table(node.this)
    name = _ident(node)
    return name or None


def _sql(node: object, dialect: str) -> str | None:
    from sqlglot import exp

    if node is None or node is False:
        return None
    if isinstance(node, exp.Expr):
        return node.sql(dialect=dialect)
    return str(node)


def _type_text(node: object, dialect: str) -> str:
    """Normalised lower-case type text: "varchar(20)", "integer", "timestamptz", …"""
    from sqlglot import exp

    if node is None or node is False:
        return ""
    if not isinstance(node, exp.Expr):
        return _lower_outside_quotes(str(node))
    # SQLite's generator maps types onto its five storage classes (varchar(20) → TEXT(20),
    # bigint → INTEGER); the generic generator keeps the declared type.
    text = node.sql(dialect=None if dialect == "sqlite" else dialect)
    text = _squeeze_commas(_lower_outside_quotes(text)).strip()
    if dialect in ("postgres", "sqlite"):
        # The dialects' own spellings: integer (PostgreSQL, SQLite), numeric (PostgreSQL).
        text = re.sub(r"^int\b", "integer", text)
    if dialect == "postgres":
        text = re.sub(r"^decimal\b", "numeric", text)
    return text


def _value_text(node: object, dialect: str) -> str | None:
    """A setting's value without quotes: '1s' → 1s, 5000 → 5000, off → off."""
    from sqlglot import exp

    if node is None or node is False:
        return None
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, (exp.Column, exp.Identifier, exp.Var)) and not (
        isinstance(node, exp.Column) and node.args.get("table")
    ):
        return str(node.name)
    if isinstance(node, exp.Tuple):
        return ", ".join(v for v in (_value_text(e, dialect) for e in node.expressions) if v)
    return _sql(node, dialect)


def _name_of_setting(node: object) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Parameter):  # MySQL user variable @x
        return "@" + str(node.name).lower()
    if isinstance(node, exp.Column):
        return ".".join(str(p.name).lower() for p in node.parts)
    if isinstance(node, exp.Expr):
        return _lower_outside_quotes(node.sql()).strip()
    return str(node).lower()


def _strip_leading_noise(sql: str) -> str:
    match = re.match(_LEADING_NOISE, sql, re.S)
    return sql[match.end() :] if match else sql


def _short(text: str, words: int = 6, width: int = 60) -> str:
    parts = text.split()
    head = " ".join(parts[:words])
    if len(head) > width:
        head = head[:width].rstrip()
    return head + (" …" if len(parts) > words or len(head) < len(" ".join(parts)) else "")


# --------------------------------------------------------------------------- statements


def _statement(node: exp.Expr, sql: str, dialect: str) -> list[Action]:
    from sqlglot import exp

    if isinstance(node, exp.Command):
        return _command(node)
    if isinstance(node, exp.Create):
        return _create(node, dialect)
    if isinstance(node, exp.Drop):
        return _drop(node)
    if isinstance(node, exp.Alter):
        return _alter(node, dialect)
    if isinstance(node, (exp.Update, exp.Delete, exp.Insert)):
        return [_dml(node)]
    if isinstance(node, exp.TruncateTable):
        cascade = str(node.args.get("option") or "").upper() == "CASCADE"
        tables = [_table(t) for t in node.expressions] or [None]
        return [
            Action(
                kind="truncate", table=t, if_exists=bool(node.args.get("exists")), cascade=cascade
            )
            for t in tables
        ]
    if isinstance(node, exp.Set):
        return _set(node, dialect)
    if isinstance(node, exp.Pragma):
        return [_pragma(node, dialect)]
    if isinstance(node, exp.Transaction):
        return [Action(kind="transaction", detail="begin")]
    if isinstance(node, exp.Commit):
        return [Action(kind="transaction", detail="commit")]
    if isinstance(node, exp.Rollback):
        savepoint = _arg(node, "savepoint")
        if savepoint is not None:
            return [Action(kind="transaction", detail="savepoint", name=_ident(savepoint))]
        return [Action(kind="transaction", detail="rollback")]
    if isinstance(node, exp.Query):
        # A SELECT can still change data through a data-modifying CTE.
        nested = [_dml(n) for n in node.find_all(exp.Update, exp.Delete, exp.Insert)]
        return [Action(kind="select"), *nested]
    if isinstance(node, exp.Comment):
        return [_comment(node)]
    if isinstance(node, (exp.Grant, exp.Revoke)):
        detail = "revoke" if isinstance(node, exp.Revoke) else None
        return [Action(kind="grant", table=_table(node.args.get("securable")), detail=detail)]
    if isinstance(node, exp.Analyze):
        tables = [_table(t) for t in node.args.get("tables") or []] or [_table(node.this)]
        return [Action(kind="alter_table_option", table=t, detail="analyze") for t in tables]
    if not isinstance(node, (exp.DDL, exp.DML)) and _is_value_expression(node):
        fallback = _transaction_fallback(sql)
        if fallback:
            return fallback
        return [
            raw(
                "not understood by the parser: sqlglot read the text as an expression"
                f" ({type(node).__name__}), not a statement"
            )
        ]
    return [raw(f"{type(node).__name__} statements are not mapped by the sqlglot adapter")]


def _transaction_fallback(sql: str) -> list[Action]:
    """Transaction control that sqlglot misreads or rejects, recognised from the text."""
    text = " ".join(_strip_leading_noise(sql).split())
    match = re.match(_TRANSACTION_WORDS, text, re.I)
    if match is None:
        return []
    begin, commit, rollback, savepoint, name = match.groups()
    if savepoint:
        return [Action(kind="transaction", detail="savepoint", name=_ident(name) if name else None)]
    if begin:
        return [Action(kind="transaction", detail="begin")]
    if commit:
        return [Action(kind="transaction", detail="commit")]
    if rollback and not name:
        return [Action(kind="transaction", detail="rollback")]
    return []


def _is_value_expression(node: exp.Expr) -> bool:
    """True for a bare value (column, alias, literal, call …) where a statement should be."""
    from sqlglot import exp

    return isinstance(
        node,
        (exp.Column, exp.Alias, exp.Literal, exp.Identifier, exp.Var, exp.Paren, exp.Anonymous,
         exp.Binary, exp.Func, exp.Tuple, exp.Star, exp.Dot, exp.Unary, exp.Condition),
    )  # fmt: skip


# --------------------------------------------------------------------------- Command


def _command(node: exp.Expr) -> list[Action]:
    from sqlglot import exp

    keyword = str(node.this or "").upper()
    rest_node = node.args.get("expression")
    if isinstance(rest_node, exp.Expr):
        rest = str(rest_node.name if isinstance(rest_node, exp.Literal) else rest_node.sql())
    else:
        rest = str(rest_node or "")
    words = rest.split()
    head = [w.upper() for w in words[:4]]
    if head[:2] == ["OR", "REPLACE"]:
        head = head[2:]

    if keyword == "DO":
        return [raw("DO block: procedural code is not analysed", detail="dynamic")]
    if keyword == "CREATE" and head[:1] in (["FUNCTION"], ["PROCEDURE"]):
        action = raw(f"CREATE {head[0]}: procedural code is not analysed", detail="dynamic")
        match = re.search(rf"\b{head[0]}\s+({_NAME})", rest, re.I)
        return [replace(action, name=_split_name(match.group(1)) if match else None)]
    if keyword == "EXECUTE":
        return [raw("EXECUTE runs dynamic or prepared SQL that is not analysed", detail="dynamic")]
    if keyword == "RENAME" and head[:1] == ["TABLE"]:
        renamed = _rename_tables(rest.split(None, 1)[1] if len(words) > 1 else "")
        if renamed:
            return renamed
    if keyword == "SET":
        setting = _set_command(rest)
        if setting is not None:
            return [setting]
    if keyword == "RESET":
        match = re.match(_RESET_COMMAND, rest, re.I)
        if match:
            return [Action(kind="set_option", name=match.group(1).lower(), detail="reset")]
    # sqlglot >= 30.31 hands SAVEPOINT a / RELEASE SAVEPOINT a over as Commands.
    transaction = _transaction_fallback(f"{keyword} {rest}")
    if transaction:
        return transaction
    return [raw(f"not understood by the parser: {_short(f'{keyword} {rest}'.strip())}")]


def _split_name(text: str) -> str:
    parts = []
    for quoted_bt, quoted_dq, bare in re.findall(_NAME_PART, text):
        if bare:
            parts.append(bare.lower())
        else:
            parts.append(canonical_part(quoted_bt or quoted_dq))
    return ".".join(parts)


def _rename_tables(text: str) -> list[Action]:
    """MySQL ``RENAME TABLE a TO b, c TO d`` (sqlglot keeps it as an opaque Command)."""
    actions: list[Action] = []
    for pair in text.rstrip().rstrip(";").split(","):
        match = re.match(_RENAME_PAIR, pair, re.I)
        if match is None:
            return []
        actions.append(
            Action(
                kind="rename_table",
                table=_split_name(match.group(1)),
                new_name=_split_name(match.group(2)),
            )
        )
    return actions


def _set_command(text: str) -> Action | None:
    text = " ".join(text.split())  # single spaces: the pattern cannot backtrack badly
    match = re.match(_SET_COMMAND, text, re.I | re.S)
    if match is None:
        return None
    scope, name, value = match.groups()
    if not value:
        return None
    values = [v.strip() for v in value.split(",")]
    unquoted = ", ".join(v[1:-1] if len(v) >= 2 and v[0] == v[-1] == "'" else v for v in values)
    return Action(
        kind="set_option",
        name=name.lower(),
        value=unquoted,
        detail=scope.lower() if scope else None,
    )


# --------------------------------------------------------------------------- CREATE


def _create(node: exp.Expr, dialect: str) -> list[Action]:
    from sqlglot import exp

    kind = str(node.args.get("kind") or "").upper()
    this = node.this
    props = _arg(node, "properties")
    properties: list[exp.Expr] = list(props.expressions) if props is not None else []
    if_not_exists = bool(node.args.get("exists"))

    if kind == "TABLE":
        return [_create_table(node, dialect, properties)]
    if kind == "INDEX":
        index = this if isinstance(this, exp.Index) else None
        name = index.args.get("this") if index is not None else None
        params = index.args.get("params") if index is not None else None
        columns = params.args.get("columns") if params is not None else None
        partial = params is not None and _arg(params, "where") is not None
        return [
            Action(
                kind="create_index",
                table=_table(index.args.get("table")) if index is not None else None,
                name=_ident(name) if name is not None else None,
                column=_column_list(columns),
                unique=bool(node.args.get("unique")),
                concurrently=bool(node.args.get("concurrently")),
                if_not_exists=if_not_exists,
                detail="partial" if partial else None,
            )
        ]
    if kind == "VIEW":
        materialized = any(isinstance(p, exp.MaterializedProperty) for p in properties)
        detail = "materialized" if materialized else "replace" if node.args.get("replace") else None
        view = _table(this)
        return [
            Action(
                kind="create_view",
                table=view,
                name=view,
                detail=detail,
                if_not_exists=if_not_exists,
            )
        ]
    if kind == "TRIGGER":
        trigger = next((p for p in properties if isinstance(p, exp.TriggerProperties)), None)
        table = _table(trigger.args.get("table")) if trigger is not None else None
        return [Action(kind="create_trigger", name=_ident(this), table=table)]
    if kind == "DATABASE":
        return [Action(kind="create_schema", name=_table(this), detail="database")]
    if kind in ("SCHEMA", "SEQUENCE", "TYPE"):
        detail = None
        expression = node.args.get("expression")
        if kind == "TYPE" and isinstance(expression, exp.DataType):
            detail = str(getattr(expression.this, "value", expression.this)).lower()  # "enum"
        elif kind == "TYPE" and isinstance(expression, exp.Schema):
            detail = "composite"
        return [
            Action(
                kind=f"create_{kind.lower()}",
                name=_table(this),
                if_not_exists=if_not_exists,
                detail=detail,
            )
        ]
    if kind in ("FUNCTION", "PROCEDURE"):
        action = raw(f"CREATE {kind}: procedural code is not analysed", detail="dynamic")
        return [replace(action, name=_table(this))]
    return [raw(f"CREATE {kind or type(this).__name__} is not mapped by the sqlglot adapter")]


def _create_table(node: exp.Expr, dialect: str, properties: Sequence[exp.Expr]) -> Action:
    from sqlglot import exp

    this = node.this
    elements: list[exp.Expr] = list(this.expressions) if isinstance(this, exp.Schema) else []
    table = _table(this)

    pk_columns: set[str] = set()
    for element in elements:
        inner = element
        if isinstance(element, exp.Constraint) and element.expressions:
            inner = element.expressions[0]
        if isinstance(inner, exp.PrimaryKey):
            pk_columns.update(_ident(c) for c in inner.expressions)

    columns = tuple(
        _column_def(e, dialect, pk_columns)
        if isinstance(e, exp.ColumnDef)
        # A typeless column (SQLite ``CREATE TABLE t (a, b)``) or a CTAS column list.
        else ColumnDef(
            name=_ident(e),
            data_type="",
            inline=("primary_key",) if _ident(e) in pk_columns else (),
        )
        for e in elements
        if isinstance(e, (exp.ColumnDef, exp.Identifier))
    )
    detail: str | None = None
    name: str | None = None
    if any(isinstance(e, exp.LikeProperty) for e in elements) or any(
        isinstance(p, exp.LikeProperty) for p in properties
    ):
        detail = "like"
    partition_of = next((p for p in properties if isinstance(p, exp.PartitionedOfProperty)), None)
    if partition_of is not None:
        detail, name = "partition_of", _table(partition_of.this)
    elif any(isinstance(p, exp.TemporaryProperty) for p in properties):
        detail = "temporary"
    return Action(
        kind="create_table",
        table=table,
        name=name,
        columns=columns,
        if_not_exists=bool(node.args.get("exists")),
        from_query=isinstance(node.args.get("expression"), exp.Query),
        detail=detail,
    )


def _column_def(node: exp.Expr, dialect: str, pk_columns: Iterable[str] = ()) -> ColumnDef:
    from sqlglot import exp

    name = _ident(node.this)
    not_null = False
    default: str | None = None
    inline: list[str] = []
    generated: str | None = None
    identity = False
    charset: str | None = None
    collation: str | None = None

    for constraint in node.args.get("constraints") or []:
        kind = (
            constraint.args.get("kind")
            if isinstance(constraint, exp.ColumnConstraint)
            else constraint
        )
        if isinstance(kind, exp.NotNullColumnConstraint):
            not_null = not kind.args.get("allow_null")
        elif isinstance(kind, exp.DefaultColumnConstraint):
            default = _sql(kind.this, dialect)
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            inline.append("primary_key")
        elif isinstance(kind, exp.UniqueColumnConstraint):
            inline.append("unique")
        elif isinstance(kind, exp.Reference):
            inline.append("foreign_key")
        elif isinstance(kind, exp.CheckColumnConstraint):
            inline.append("check")
        elif isinstance(kind, exp.ComputedColumnConstraint):
            persisted = kind.args.get("persisted")
            # sqlglot's postgres parser only builds this node for … STORED (and omits the flag).
            stored = bool(persisted) or (persisted is None and dialect == "postgres")
            generated = "stored" if stored else "virtual"
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
            if _arg(kind, "expression") is not None:
                generated = "virtual"  # GENERATED ALWAYS AS (expr) without STORED (PG 18)
            else:
                identity = True
        elif isinstance(kind, exp.AutoIncrementColumnConstraint):
            identity = True
        elif isinstance(kind, exp.CharacterSetColumnConstraint):
            charset = (_sql(kind.this, dialect) or "").strip("`'\"").lower()
        elif isinstance(kind, exp.CollateColumnConstraint):
            collation = (_sql(kind.this, dialect) or "").strip("`'\"").lower()
    if name in set(pk_columns):
        inline.append("primary_key")

    return ColumnDef(
        name=name,
        data_type=_type_text(node.args.get("kind"), dialect),
        not_null=not_null,
        default=default,
        inline=tuple(dict.fromkeys(inline)),
        generated=generated,
        identity=identity,
        charset=charset,
        collation=collation,
    )


def _position(node: exp.Expr) -> str | None:
    from sqlglot import exp

    position = _arg(node, "position")
    if not isinstance(position, exp.ColumnPosition):
        return None
    where = str(position.args.get("position") or "").lower()
    if where == "after" and position.this is not None:
        return f"after {_ident(position.this)}"
    return where or None


# --------------------------------------------------------------------------- DROP

# DROP <kind> → (change kind, detail). Tables, views and sequences are named in ``table``
# (they are relations the application queries), other objects in ``name``.
_DROP_KINDS: dict[str, tuple[str, str | None]] = {
    "TABLE": ("drop_table", None),
    "SEQUENCE": ("drop_table", "sequence"),
    "VIEW": ("drop_view", None),
    "INDEX": ("drop_index", None),
    "SCHEMA": ("drop_schema", None),
    "DATABASE": ("drop_schema", "database"),
    "TYPE": ("drop_type", None),
    "DOMAIN": ("drop_type", "domain"),
    "TRIGGER": ("drop_trigger", None),
    "FUNCTION": ("create_function", "drop"),
    "PROCEDURE": ("create_function", "drop"),
}


def _drop(node: exp.Expr) -> list[Action]:
    kind = str(node.args.get("kind") or "").upper()
    objects = node.args.get("tables") or node.args.get("expressions") or [node.this]
    on = _table(node.args.get("cluster"))  # DROP INDEX ix ON t / DROP TRIGGER trg ON t
    if_exists = bool(node.args.get("exists"))
    cascade = bool(node.args.get("cascade"))
    mapped = _DROP_KINDS.get(kind)
    if mapped is None:
        names = ", ".join(n for n in (_table(o) for o in objects) if n)
        return [
            raw(f"DROP {kind or '?'} {names}".rstrip() + " is not mapped by the sqlglot adapter")
        ]
    change, detail = mapped
    if node.args.get("materialized"):
        detail = "materialized"
    elif change == "drop_table" and node.args.get("temporary"):
        detail = "temporary"
    actions: list[Action] = []
    for obj in objects:
        name = _table(obj)
        relation = change in ("drop_table", "drop_view")
        actions.append(
            Action(
                kind=change,
                table=name if relation else on,
                name=name if change != "drop_table" else None,
                concurrently=bool(node.args.get("concurrently")),
                detail=detail,
                if_exists=if_exists,
                cascade=cascade,
            )
        )
    return actions or [raw(f"DROP {kind} without objects")]


# --------------------------------------------------------------------------- ALTER


def _alter(node: exp.Expr, dialect: str) -> list[Action]:
    from sqlglot import exp

    kind = str(node.args.get("kind") or "").upper()
    target = _table(node.this)
    algorithm: str | None = None
    lock_clause: str | None = None
    option_actions: list[Action] = []
    for option in node.args.get("options") or []:
        if isinstance(option, exp.AlgorithmProperty):
            algorithm = _ident(option.this).upper()
        elif isinstance(option, exp.LockProperty):
            lock_clause = _ident(option.this).upper()
        else:
            option_actions.append(_table_option(option, target, dialect))

    actions: list[Action] = []
    alter_actions = node.args.get("actions") or []
    if kind == "TABLE":
        for action in alter_actions:
            actions.extend(_alter_table_action(action, node, target, dialect))
        actions.extend(option_actions)
        if not actions:
            actions.append(
                Action(kind="alter_table_option", table=target, detail="options")
                if algorithm or lock_clause
                else raw("ALTER TABLE without a recognised action")
            )
    elif (
        kind == "INDEX"
        and len(alter_actions) == 1
        and isinstance(alter_actions[0], exp.AlterRename)
    ):
        new = _table(alter_actions[0].this)
        actions.append(Action(kind="rename_index", name=target, new_name=new))
    elif kind == "INDEX":
        actions.append(Action(kind="alter_table_option", name=target, detail="index_option"))
    elif (
        kind == "VIEW" and len(alter_actions) == 1 and isinstance(alter_actions[0], exp.AlterRename)
    ):
        new = _table(alter_actions[0].this)
        actions.append(Action(kind="rename_table", table=target, new_name=new, detail="view"))
    else:
        names = ", ".join(type(a).__name__ for a in alter_actions) or "no action"
        actions.append(raw(f"ALTER {kind or '?'} ({names}) is not mapped by the sqlglot adapter"))

    if algorithm or lock_clause:
        actions = [replace(a, algorithm=algorithm, lock_clause=lock_clause) for a in actions]
    return actions


def _table_option(option: exp.Expr, table: str | None, dialect: str) -> Action:
    """A MySQL table option such as ENGINE=InnoDB, FORCE, ROW_FORMAT=…, AUTO_INCREMENT=…."""
    from sqlglot import exp

    if isinstance(option, exp.EngineProperty):  # rebuilds the table, even to the same engine
        return Action(
            kind="rewrite_table",
            table=table,
            detail="engine",
            value=_value_text(option.this, dialect),
        )
    if isinstance(option, exp.ForceProperty):
        return Action(kind="rewrite_table", table=table, detail="force")
    if type(option) is exp.Property:
        name = _ident(option.this)
    else:
        label = type(option).__name__.removesuffix("Property")
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", label).lower()  # RowFormat → row_format
    if isinstance(option, exp.CharacterSetProperty) and option.args.get("default"):
        name = "default_charset"  # the default for new columns only: metadata
    value = option.args.get("value", option.this)
    return Action(
        kind="alter_table_option", table=table, name=name, value=_value_text(value, dialect)
    )


def _alter_table_action(
    action: exp.Expr, alter: exp.Expr, table: str | None, dialect: str
) -> list[Action]:
    from sqlglot import exp

    alter_exists = bool(alter.args.get("exists"))

    if isinstance(action, exp.ColumnDef):
        column_def = _column_def(action, dialect)
        return [
            Action(
                kind="add_column",
                table=table,
                column=column_def.name,
                column_def=column_def,
                if_not_exists=bool(action.args.get("exists")),
                if_exists=alter_exists,
                position=_position(action),
                not_valid=bool(alter.args.get("not_valid")),
            )
        ]
    if isinstance(action, exp.RenameColumn):
        return [
            Action(
                kind="rename_column",
                table=table,
                column=_ident(action.this),
                new_name=_ident(action.args.get("to")),
                if_exists=alter_exists or bool(action.args.get("exists")),
            )
        ]
    if isinstance(action, exp.Drop):
        return _alter_drop(action, table, alter_exists)
    if isinstance(action, exp.DropPrimaryKey):
        return [Action(kind="drop_constraint", table=table, constraint="primary_key")]
    if isinstance(action, exp.AlterColumn):
        return [_alter_column(action, table, dialect, alter_exists)]
    if isinstance(action, exp.AlterRename):
        return [
            Action(
                kind="rename_table",
                table=table,
                new_name=_table(action.this),
                if_exists=alter_exists,
            )
        ]
    if isinstance(action, exp.AddConstraint):
        not_valid = bool(alter.args.get("not_valid"))
        return [_add_constraint(c, table, not_valid, alter_exists) for c in action.expressions]
    if isinstance(action, exp.AlterSet):
        return _alter_set(action, table, dialect)
    if isinstance(action, exp.ModifyColumn):
        return _modify_column(action, table, dialect)
    if isinstance(action, exp.RenameIndex):
        return [
            Action(
                kind="rename_index",
                table=table,
                name=_ident(action.this),
                new_name=_ident(action.args.get("to")),
            )
        ]
    if isinstance(action, exp.Property):  # MySQL options mixed with the actions (FORCE, …)
        return [_table_option(action, table, dialect)]
    if isinstance(action, exp.AlterIndex):  # MySQL ALTER INDEX ix [IN]VISIBLE
        visible = action.args.get("visible")
        return [
            Action(
                kind="alter_table_option",
                table=table,
                name=_ident(action.this),
                detail="index_visible" if visible else "index_invisible",
            )
        ]
    return [raw(f"ALTER TABLE action {type(action).__name__} is not mapped by the sqlglot adapter")]


_DROPPED_CONSTRAINT = {
    "CONSTRAINT": None,
    "FOREIGN KEY": "foreign_key",
    "CHECK": "check",
    "PRIMARY KEY": "primary_key",
    "UNIQUE": "unique",
}


def _alter_drop(action: exp.Expr, table: str | None, alter_exists: bool) -> list[Action]:
    kind = str(action.args.get("kind") or "COLUMN").upper()
    exists = alter_exists or bool(action.args.get("exists"))
    cascade = bool(action.args.get("cascade"))
    objects = action.args.get("tables") or action.args.get("expressions") or [action.this]
    out: list[Action] = []
    for obj in objects:
        name = _ident(obj) if obj is not None else None
        if kind == "COLUMN":
            out.append(
                Action(
                    kind="drop_column", table=table, column=name, if_exists=exists, cascade=cascade
                )
            )
        elif kind in _DROPPED_CONSTRAINT:
            out.append(
                Action(
                    kind="drop_constraint",
                    table=table,
                    name=name,
                    constraint=_DROPPED_CONSTRAINT[kind],
                    if_exists=exists,
                    cascade=cascade,
                )
            )
        elif kind in ("INDEX", "KEY"):
            out.append(Action(kind="drop_index", table=table, name=name, if_exists=exists))
        else:
            out.append(raw(f"ALTER TABLE … DROP {kind} is not mapped by the sqlglot adapter"))
    return out


def _alter_column(action: exp.Expr, table: str | None, dialect: str, exists: bool) -> Action:
    column = _ident(action.this)
    args = action.args
    dtype = _arg(action, "dtype")
    if dtype is not None:
        return Action(
            kind="alter_column_type",
            table=table,
            column=column,
            data_type=_type_text(dtype, dialect),
            using=_sql(args.get("using"), dialect),
            if_exists=exists,
        )
    allow_null = args.get("allow_null")
    if allow_null is not None:
        kind = "drop_not_null" if allow_null else "set_not_null"
        return Action(kind=kind, table=table, column=column, if_exists=exists)
    if _arg(action, "default") is not None:
        return Action(
            kind="set_default",
            table=table,
            column=column,
            default=_sql(args.get("default"), dialect),
            if_exists=exists,
        )
    if args.get("drop"):
        return Action(kind="drop_default", table=table, column=column, if_exists=exists)
    present = ", ".join(
        sorted(k for k, v in args.items() if v not in (None, False) and k != "this")
    )
    if not present:
        return raw("ALTER COLUMN without a recognised change")
    if isinstance(args.get("visible"), str):
        present = str(args["visible"]).lower()  # MySQL SET [IN]VISIBLE
    # COMMENT, VISIBLE/INVISIBLE, COLLATE alone, …: column options.
    return Action(
        kind="alter_table_option", table=table, column=column, detail=present, if_exists=exists
    )


def _add_constraint(node: exp.Expr, table: str | None, not_valid: bool, exists: bool) -> Action:
    from sqlglot import exp

    name: str | None = None
    inner: exp.Expr | None = node
    if isinstance(node, exp.Constraint):
        name = _ident(node.this)
        inner = node.expressions[0] if node.expressions else None

    ref_table: str | None = None
    column: str | None = None
    detail: str | None = None
    if isinstance(inner, exp.IndexColumnConstraint):
        # MySQL ALTER TABLE … ADD [FULLTEXT|SPATIAL] INDEX name (cols)
        index_kind = str(inner.args.get("kind") or "").lower() or None
        return Action(
            kind="create_index",
            table=table,
            name=_ident(inner.this) if inner.this is not None else name,
            column=_column_list(inner.expressions),
            unique=index_kind == "unique",
            detail=index_kind,
        )
    if isinstance(inner, exp.ForeignKey):
        constraint = "foreign_key"
        reference = _arg(inner, "reference")
        ref_table = _table(reference.this) if reference is not None else None
        column = _column_list(inner.expressions)
    elif isinstance(inner, exp.Reference):
        constraint = "foreign_key"
        ref_table = _table(inner.this)
    elif isinstance(inner, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
        constraint = "primary_key"
        column = _column_list(inner.expressions)
    elif isinstance(inner, exp.UniqueColumnConstraint):
        constraint = "unique"
        schema = inner.this
        if isinstance(schema, exp.Schema):
            column = _column_list(schema.expressions)
            if name is None and schema.this is not None:
                name = _ident(schema.this)  # MySQL ADD UNIQUE KEY uk (a)
    elif isinstance(inner, exp.CheckColumnConstraint):
        constraint = "check"
        column = _not_null_check_column(inner.this)
        detail = "not_null_check" if column else None
    elif isinstance(inner, exp.ExcludeColumnConstraint):
        constraint = "exclusion"
    else:
        what = type(inner).__name__ if inner is not None else "empty"
        return raw(f"ADD CONSTRAINT ({what}) is not mapped by the sqlglot adapter")

    inner_not_valid = inner is not None and bool(inner.args.get("not_valid"))
    return Action(
        kind="add_constraint",
        table=table,
        column=column,
        name=name,
        constraint=constraint,
        ref_table=ref_table,
        not_valid=not_valid or inner_not_valid,
        using_index=inner is not None and bool(inner.args.get("using_index")),
        if_exists=exists,
        detail=detail,
    )


def _column_list(columns: object) -> str | None:
    """ "a,b" for a list of plain column references; None when any entry is an expression."""
    from sqlglot import exp

    if not isinstance(columns, list) or not columns:
        return None
    names: list[str] = []
    for column in columns:
        while isinstance(column, exp.Ordered):
            column = column.this
        if isinstance(column, exp.Column) and _arg(column, "table") is None:
            names.append(_ident(column.this))
        elif isinstance(column, exp.Identifier):
            names.append(_ident(column))
        else:
            return None
    return ",".join(names)


def _not_null_check_column(condition: object) -> str | None:
    """The column of ``CHECK (c IS NOT NULL)`` (lets PG 12+ skip the SET NOT NULL scan)."""
    from sqlglot import exp

    negated = False
    while isinstance(condition, (exp.Paren, exp.Not)):
        negated ^= isinstance(condition, exp.Not)
        condition = condition.this
    if not isinstance(condition, exp.Is) or not isinstance(condition.expression, exp.Null):
        return None
    negated ^= bool(condition.args.get("negate"))
    column = condition.this
    while isinstance(column, exp.Paren):
        column = column.this
    if negated and isinstance(column, exp.Column) and _arg(column, "table") is None:
        return _ident(column.this)
    return None


def _alter_set(action: exp.Expr, table: str | None, dialect: str) -> list[Action]:
    from sqlglot import exp

    option = _arg(action, "option")
    option_text = _ident(option).strip().lower() if option is not None else ""
    if option_text in ("logged", "unlogged"):
        return [Action(kind="rewrite_table", table=table, detail=f"set_{option_text}")]
    tablespace = _arg(action, "tablespace")
    if tablespace is not None:
        return [
            Action(
                kind="rewrite_table", table=table, detail="set_tablespace", name=_ident(tablespace)
            )
        ]
    if option_text:
        return [Action(kind="alter_table_option", table=table, name=option_text, detail="set")]
    actions: list[Action] = []
    for expression in action.expressions:  # SET (fillfactor = 70, autovacuum_enabled = off)
        if isinstance(expression, (exp.EQ, exp.PropertyEQ, exp.Property)):
            name = _name_of_setting(expression.this)
            value = expression.expression if not isinstance(expression, exp.Property) else None
            if isinstance(expression, exp.Property):
                value = expression.args.get("value")
            actions.append(
                Action(
                    kind="alter_table_option",
                    table=table,
                    name=name,
                    value=_value_text(value, dialect),
                    detail="set",
                )
            )
        else:
            actions.append(
                Action(
                    kind="alter_table_option",
                    table=table,
                    name=_name_of_setting(expression),
                    detail="set",
                )
            )
    if not actions:
        present = [k for k, v in action.args.items() if v not in (None, False, [])]
        actions.append(
            Action(
                kind="alter_table_option",
                table=table,
                name=present[0] if present else None,
                detail="set",
            )
        )
    return actions


def _modify_column(action: exp.Expr, table: str | None, dialect: str) -> list[Action]:
    """MySQL ``MODIFY [COLUMN] c <def>`` and ``CHANGE [COLUMN] old new <def>``."""
    from sqlglot import exp

    definition = action.this
    if not isinstance(definition, exp.ColumnDef):
        return [raw("MODIFY/CHANGE COLUMN without a column definition")]
    column_def = _column_def(definition, dialect)
    rename_from = _arg(action, "rename_from")
    old = _ident(rename_from) if rename_from is not None else column_def.name
    if old != column_def.name:
        # CHANGE with a new name: reported as the rename; the redefinition rides along.
        return [
            Action(
                kind="rename_column",
                table=table,
                column=old,
                new_name=column_def.name,
                column_def=column_def,
                data_type=column_def.data_type,
                detail="change",
                position=_position(definition),
            )
        ]
    return [
        Action(
            kind="alter_column_type",
            table=table,
            column=column_def.name,
            data_type=column_def.data_type,
            column_def=column_def,
            detail="modify",
            position=_position(definition),
        )
    ]


# --------------------------------------------------------------------------- DML & misc


def _dml(node: exp.Expr) -> Action:
    from sqlglot import exp

    if isinstance(node, exp.Update):
        kind = "data_update"
    elif isinstance(node, exp.Delete):
        kind = "data_delete"
    else:
        kind = "data_insert"
    target = node.this
    if isinstance(node, exp.Delete) and node.args.get("tables"):
        target = node.args["tables"][0]  # MySQL DELETE t1 FROM t1 JOIN …
    return Action(
        kind=kind,
        table=_table(target) if isinstance(target, (exp.Table, exp.Schema)) else None,
        has_where=_arg(node, "where") is not None,
    )


def _set(node: exp.Expr, dialect: str) -> list[Action]:
    from sqlglot import exp

    actions: list[Action] = []
    for item in node.expressions:
        scope: str | None = None
        if isinstance(item, exp.SetItem):
            scope = str(item.args.get("kind") or "").lower() or None
        this = item.this if isinstance(item, exp.SetItem) else item
        if isinstance(this, (exp.EQ, exp.PropertyEQ)):
            name = _name_of_setting(this.this)
            value = _value_text(this.expression, dialect)
        elif scope in ("names", "transaction", "character set", "charset") or this is None:
            name = scope or "set"
            parts = [this] if this is not None else list(item.expressions)
            value = " ".join(_value_text(p, dialect) or "" for p in parts).strip() or None
            scope = None
        else:
            name = _name_of_setting(this)
            value = None
        actions.append(Action(kind="set_option", name=name, value=value, detail=scope))
    return actions or [raw("SET without a setting")]


def _pragma(node: exp.Expr, dialect: str) -> Action:
    from sqlglot import exp

    this = node.this
    if isinstance(this, (exp.EQ, exp.PropertyEQ)):
        return Action(
            kind="set_option",
            name=_name_of_setting(this.this),
            value=_value_text(this.expression, dialect),
            detail="pragma",
        )
    return Action(kind="set_option", name=_name_of_setting(this), detail="pragma")


def _comment(node: exp.Expr) -> Action:
    from sqlglot import exp

    target = node.this
    kind = str(node.args.get("kind") or "").lower() or None
    if isinstance(target, exp.Column):
        table_part = _arg(target, "table")
        db_part = _arg(target, "db")
        table = ".".join(_ident(p) for p in (db_part, table_part) if p is not None) or None
        return Action(kind="comment", table=table, column=_ident(target.this), detail=kind)
    if kind == "table":
        return Action(kind="comment", table=_table(target), detail=kind)
    return Action(kind="comment", name=_table(target), detail=kind)
