"""Identifiers as parts, from the parser to every generated statement.

A table reference travels through schemashift as one *canonical* string: its parts joined by
``.``, each part bare when it is a plain lower-case identifier and double-quoted otherwise
(``users``, ``app.users``, ``"a.b"``, ``public."a.b"``, ``"UserAccounts"``). The string reads
back to exactly the same parts, so ``"a.b"`` (one table with a dot in its name) and ``a.b``
(table ``b`` in schema ``a``) never meet; it is also valid PostgreSQL and SQLite SQL.
:func:`canonical` builds it, :class:`TableName` reads it back, and generated SQL quotes
each part again for its dialect (:func:`quote_ident`).

Columns and other single names travel as their raw text (one part: no dots to split).

Length limits: PostgreSQL truncates every identifier longer than 63 bytes (at a character
boundary) in its lexer, so the catalog holds the truncated name; :func:`server_ident` does
the same so our catalog lookups match. MySQL/MariaDB refuse names over 64 characters;
:func:`check_ident` refuses them before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PG_MAX_BYTES = 63
MYSQL_MAX_CHARS = 64
# Private-use characters mark run-time references in generated SQL (sqltext/refs.py): a
# name holding one is refused, so no name can forge a reference.
FORBIDDEN = frozenset("\x00\ue000\ue001")

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")
_BARE_PART = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")

# PostgreSQL key words that cannot be a bare column or table name in every position
# ("reserved" and "reserved (can be function or type)", plus column-name key words that
# are also type or function names).
PG_RESERVED = frozenset(
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


class BadName(ValueError):
    """Not a name we can work with (malformed, forbidden character, too long)."""


def canonical_part(part: str) -> str:
    """One part as the canonical string spells it: bare when plain, else double-quoted."""
    if _PLAIN.fullmatch(part):
        return part
    return '"' + part.replace('"', '""') + '"'


def canonical(parts: tuple[str, ...] | list[str]) -> str:
    return ".".join(canonical_part(p) for p in parts)


def split_name(text: str, dialect: str = "postgres") -> tuple[str, ...]:
    """The parts of a possibly qualified name: quoted parts (``"…"``, ```…```, ``[…]``)
    verbatim, bare parts folded to lower case (except on MySQL, where table names keep the
    case they are written in). Raises :class:`BadName` on anything else."""
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] in '"`[':
            close = {'"': '"', "`": "`", "[": "]"}[text[i]]
            j, buf = i + 1, []
            while True:
                k = text.find(close, j)
                if k < 0:
                    raise BadName(f"unterminated quoted identifier in {text!r}")
                buf.append(text[j:k])
                if close != "]" and text.startswith(close, k + 1):  # doubled: escaped
                    buf.append(close)
                    j = k + 2
                    continue
                i = k + 1
                break
            part = "".join(buf)
            if not part:
                raise BadName(f"empty quoted identifier in {text!r}")
            parts.append(part)
        else:
            m = _BARE_PART.match(text, i)
            if m is None:
                raise BadName(f"not a SQL name: {text!r}")
            parts.append(m.group() if dialect == "mysql" else m.group().lower())
            i = m.end()
        while i < n and text[i].isspace():
            i += 1
        if i == n:
            break
        if text[i] != ".":
            raise BadName(f"not a SQL name: {text!r}")
        i += 1
    if len(parts) > 3:
        raise BadName(f"too many dots in SQL name {text!r}")
    return tuple(parts)


def server_ident(name: str, dialect: str) -> str:
    """``name`` as the server stores it: PostgreSQL truncates to 63 bytes, never splitting
    a character."""
    if dialect != "postgres" or len(name.encode()) <= PG_MAX_BYTES:
        return name
    return name.encode()[:PG_MAX_BYTES].decode(errors="ignore")


def check_ident(name: str, dialect: str, what: str = "name") -> str:
    """``name`` (one part) checked and as the server stores it; raises BadName when it
    holds a forbidden character or is too long for MySQL/MariaDB."""
    if not name:
        raise BadName(f"empty {what}")
    bad = FORBIDDEN.intersection(name)
    if bad:
        raise BadName(f"{what} {name!r} holds a character schemashift refuses "
                         f"({', '.join(repr(c) for c in sorted(bad))})")  # fmt: skip
    if dialect == "mysql" and len(name) > MYSQL_MAX_CHARS:
        raise BadName(
            f"{what} {name[:20]!r}… is {len(name)} characters long; MySQL/MariaDB allow "
            f"{MYSQL_MAX_CHARS}"
        )
    return server_ident(name, dialect)


def quote_ident(name: str, dialect: str) -> str:
    """One identifier as SQL: backticks on MySQL; on PostgreSQL and SQLite bare when that
    reads the same (plain lower case, not a reserved word), else double-quoted."""
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    if _PLAIN.fullmatch(name) and name not in PG_RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableName:
    """A table as parts: ``schema`` (None: the search path / current database) and
    ``name``, both as the server stores them."""

    schema: str | None
    name: str

    @staticmethod
    def parse(text: str, dialect: str) -> TableName:
        """From a canonical string (or any SQL spelling of the name); checked."""
        parts = split_name(text, dialect)
        if len(parts) == 3:  # catalog.schema.table: the catalog is the current database
            parts = parts[1:]
        checked = [check_ident(p, dialect, "table name" if i == len(parts) - 1 else "schema")
                   for i, p in enumerate(parts)]  # fmt: skip
        return TableName(checked[0], checked[1]) if len(checked) == 2 else TableName(None, checked[0])

    @property
    def canonical(self) -> str:
        return canonical((self.name,) if self.schema is None else (self.schema, self.name))

    def __str__(self) -> str:
        return self.canonical

    def sql(self, dialect: str) -> str:
        """The table, quoted for ``dialect``."""
        name = quote_ident(self.name, dialect)
        return name if self.schema is None else f"{quote_ident(self.schema, dialect)}.{name}"

    def sibling(self, name: str, dialect: str) -> str:
        """Another object (index, function, trigger on MySQL) ``name`` in this table's
        schema, quoted."""
        quoted = quote_ident(name, dialect)
        return quoted if self.schema is None else f"{quote_ident(self.schema, dialect)}.{quoted}"

    def with_name(self, name: str) -> TableName:
        return TableName(self.schema, name)
