"""The fast path: a targeted recogniser for the statement shapes migrations are made of.

sqlglot parses everything, but slowly (~80 µs a statement) and it returns an opaque
``exp.Command`` for several statements a linter needs most (``VALIDATE CONSTRAINT``,
unnamed ``ADD CHECK``, ``… UNIQUE USING INDEX``, ``RENAME CONSTRAINT``, ``CREATE
EXTENSION``, ``NULLS NOT DISTINCT`` indexes, ``DO`` blocks, ``ALTER TYPE … ADD VALUE``).
This module recognises DDL with anchored regular expressions over the statement text and
returns ``None`` for anything it is not sure of, which then goes to sqlglot. It never
guesses: an action clause it does not know makes the whole statement fall through.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from schemashift.sql.actions import Action, ColumnDef, raw
from schemashift.sql.tokens import QUOTED, STRING, WORD, Token, tokenize
from schemashift.sqltext.names import canonical_part

_F = re.IGNORECASE | re.DOTALL | re.VERBOSE

# An identifier, optionally quoted, and a qualified name (schema.table).
_ID = r"""(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[^\W\d][\w$]*)"""
_QN = rf"{_ID}(?:\s*\.\s*{_ID}){{0,2}}"
_IDENT_PART = re.compile(_ID)

# Words that end a column's type and start its constraints.
_COL_KW = (
    r"NOT|NULL|DEFAULT|PRIMARY|UNIQUE|REFERENCES|CHECK|CONSTRAINT|GENERATED|COLLATE"
    r"|AUTO_INCREMENT|AUTOINCREMENT|COMMENT|FIRST|AFTER|ON|AS|STORED|VIRTUAL|PERSISTENT"
    r"|USING|CHARACTER\s+SET|CHARSET|INVISIBLE|VISIBLE|KEY|IDENTITY"
)
_TYPE = rf"""(?:{_ID}(?:\s*\.\s*{_ID})?)
    (?:\s+(?!(?:{_COL_KW})\b)[A-Za-z_]\w*)*
    (?:\s*\((?:[^()']|'(?:[^']|'')*')*\))?
    (?:\s+(?!(?:{_COL_KW})\b)[A-Za-z_]\w*)*
    (?:\s*\[\s*\d*\s*\])*"""
_COLUMN_DEF = re.compile(rf"\s*(?P<name>{_ID})\s+(?P<type>{_TYPE})(?P<rest>.*)", _F)

_ALTER_TABLE = re.compile(
    rf"""ALTER\s+(?:ONLINE\s+|IGNORE\s+)?TABLE\s+(?P<if>IF\s+EXISTS\s+)?(?:ONLY\s+)?
    (?P<table>{_QN})\s*\*?\s+(?P<actions>.+)""",
    _F,
)

# Patterns used inside the functions below, compiled once.
_PATTERN_HEAD = re.compile(r"([A-Z_]+)\\s", 0)
_NOT_VALID = re.compile(r"\bNOT\s+VALID\b", 0)
_USING_INDEX = re.compile(r"\bUSING\s+INDEX\b", 0)
_REFERENCES = re.compile(rf"\bREFERENCES\s+(?P<ref>{_QN})", re.IGNORECASE)
_USING_INDEX_NAME = re.compile(rf"\bUSING\s+INDEX\s+(?P<idx>{_ID})", re.IGNORECASE)
_PAREN_LIST = re.compile(r"\s*\(([^()]*)\)", 0)
_IS_NOT_NULL_CHECK = re.compile(rf"\s*\(\s*\(?\s*(?P<col>{_ID})\s+IS\s+NOT\s+NULL\s*\)?\s*\)", re.I)
_POSITION = re.compile(rf"\s+(FIRST|AFTER\s+{_ID})\s*$", re.IGNORECASE)
_CHANGE_OLD_NAME = re.compile(rf"\s*(?P<old>{_ID})\s+(?P<def>.+)", _F)
_PLAIN_INDEX_COLUMN = re.compile(rf"{_ID}(?:\s+(?:ASC|DESC))?", re.I)
_WHERE_WORD = re.compile(r"\bWHERE\b", 0)
_NAME_ON_TABLE = re.compile(rf"(?P<n>{_QN})\s+ON\s+(?P<t>{_QN})$", _F)
_QUALIFIED_NAME = re.compile(rf"\s*{_QN}\s*", 0)
_AS_QUERY = re.compile(r"(?:\([^()]*\)\s*)?(?:WITH\s*\([^()]*\)\s*)?AS\b", re.I)
_PARTITION_OF = re.compile(rf"(?:PARTITION\s+OF|OF|LIKE)\s+{_QN}", re.I)
_AS_WORD = re.compile(r"\s*AS\b", re.I)
_PARTITION_PARENT = re.compile(rf"PARTITION\s+OF\s+({_QN})", re.I)
_TABLE_PRIMARY_KEY = re.compile(r"PRIMARY\s+KEY\s*\(([^()]*)\)", re.I)
_SET_OTHER = re.compile(
    r"SET\s+(?:SESSION\s+)?(?:TRANSACTION|NAMES|CHARACTER|CONSTRAINTS|ROLE)\b.*", _F
)
_TO_WORD = re.compile(r"\s*TO\b", re.I)
_RENAME_TABLES = re.compile(r"RENAME\s+TABLES?\s+(?P<pairs>.+)", _F)
_RENAME_PAIR = re.compile(rf"\s*(?P<a>{_QN})\s+TO\s+(?P<b>{_QN})\s*", _F)
_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'", 0)
_IF_NOT_EXISTS = re.compile(r"\s*IF\s+NOT\s+EXISTS", re.I)
_ALTER_SCHEMA_RENAME = re.compile(
    rf"ALTER\s+SCHEMA\s+(?P<s>{_ID})\s+RENAME\s+TO\s+(?P<n>{_ID})", _F
)
_ALTER_SEQUENCE = re.compile(rf"ALTER\s+SEQUENCE\s+(?:IF\s+EXISTS\s+)?(?P<s>{_QN})\b", _F)
_ON_TABLE = re.compile(rf"\bON\s+(?P<t>{_QN})", re.I)
_OR_REPLACE = re.compile(r"CREATE\s+OR\s+REPLACE", re.I)
_CLUSTER = re.compile(rf"CLUSTER\s+(?:VERBOSE\s+)?(?P<t>{_QN})?", _F)
_SPACE_OPEN_PAREN = re.compile(r"\s*\(\s*", 0)
_SPACE_COMMA = re.compile(r"\s*,\s*", 0)
_SPACE_CLOSE_PAREN = re.compile(r"\s*\)", 0)
_INNER_PARENS = re.compile(r"\([^()]*\)", 0)
_SORT_ORDER = re.compile(r"\s+(?:ASC|DESC)$", re.I)
_STRINGS_AND_BODIES = re.compile(r"'(?:[^']|'')*'|\$(\w*)\$.*?\$\1\$", re.DOTALL)


def _name(text: str) -> str:
    """A possibly quoted, possibly qualified name in canonical form (sqltext/names.py):
    bare parts lower-cased, a quoted part kept verbatim and quoted again unless it is a
    plain lower-case name, so ``"a.b"`` and ``a.b`` stay apart."""
    if text.isidentifier():
        return text.lower()
    parts = _IDENT_PART.findall(text)
    out = []
    for p in parts:
        if p[0] in '"`':
            q = p[0]
            out.append(canonical_part(p[1:-1].replace(q + q, q)))
        elif p[0] == "[":
            out.append(canonical_part(p[1:-1]))
        else:
            out.append(p.lower())
    return ".".join(out)


def _norm_type(text: str) -> str:
    if text.isidentifier():
        return text.lower()
    t = " ".join(text.split()).lower()
    t = _SPACE_OPEN_PAREN.sub("(", t)
    t = _SPACE_COMMA.sub(",", t)
    return _SPACE_CLOSE_PAREN.sub(")", t)


_SPECIAL = re.compile(r"""[(),'"`]|\$\$""")


def _escaped(text: str, i: int) -> bool:
    """True when the quote at ``i`` follows an odd run of backslashes (MySQL-style escape)."""
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` (a comma) outside parentheses, strings and quoted identifiers."""
    if sep not in text:
        return [text]
    if "(" not in text and "'" not in text and '"' not in text and "`" not in text:
        return text.split(sep)
    out: list[str] = []
    depth = 0
    start = 0
    quote = ""
    pos = 0
    # Jump from one special character to the next: the regex engine skips the rest.
    for m in _SPECIAL.finditer(text):
        if m.start() < pos:
            continue
        c = m.group()
        i = m.start()
        if quote:
            if c == quote and not (quote == "'" and _escaped(text, i)):
                if text.startswith(quote, i + 1):
                    pos = i + 2  # doubled quote: still inside
                else:
                    quote = ""
            continue
        if c in ("'", '"', "`"):
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
        elif c == "$$":
            end = text.find("$$", i + 2)
            if end > 0:
                pos = end + 2
    out.append(text[start:])
    return out


_STRIP_COMMENTS = re.compile(
    r"""('(?:[^'\\]|''|\\.)*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\$(\w*)\$.*?\$\2\$)|--[^\n]*|/\*.*?\*/""",
    re.DOTALL,
)


def strip_comments(sql: str) -> str:
    if "--" not in sql and "/*" not in sql:
        return sql
    return _STRIP_COMMENTS.sub(lambda m: m.group(1) or " ", sql)


# ---------------------------------------------------------------------------------------
# Column definitions


_TAIL_STOP = frozenset(
    {"NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "REFERENCES", "CHECK", "CONSTRAINT",
     "GENERATED", "COLLATE", "AUTO_INCREMENT", "AUTOINCREMENT", "COMMENT", "FIRST", "AFTER",
     "ON", "AS", "STORED", "VIRTUAL", "PERSISTENT", "CHARACTER", "CHARSET", "INVISIBLE",
     "VISIBLE", "DEFERRABLE", "INITIALLY", "KEY"}
)  # fmt: skip


_SIMPLE_COLUMN = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z_0-9]*)\s+(?P<type>[A-Za-z_][A-Za-z_0-9]*(?:\s*\([\d\s,]*\))?)
    (?P<rest>(?:\s+(?:NOT\s+NULL|NULL|PRIMARY\s+KEY|UNIQUE
       |DEFAULT\s+(?P<default>'(?:[^'\\]|'')*'|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z_0-9]*(?:\(\))?)))*)
    \s*$""",
    _F,
)


def parse_column_def(text: str, dialect: str) -> ColumnDef | None:
    fast = _SIMPLE_COLUMN.match(text)
    if fast:
        rest = fast.group("rest").upper()
        inline: tuple[str, ...] = ()
        if "PRIMARY" in rest:
            inline = ("primary_key",)
        if "UNIQUE" in rest:
            inline = (*inline, "unique")
        default = fast.group("default")
        if default and default.upper() in ("NOT", "NULL", "PRIMARY", "UNIQUE", "DEFAULT"):
            fast = None  # a keyword where an expression belongs: let the full path decide
        else:
            return ColumnDef(
                fast.group("name").lower(), _norm_type(fast.group("type")),
                not_null="NOT NULL" in " ".join(rest.split()), default=default,
                inline=inline,
            )  # fmt: skip
    m = _COLUMN_DEF.match(text)
    if not m:
        return None
    name = _name(m.group("name"))
    data_type = _norm_type(m.group("type"))
    rest = m.group("rest").strip()
    if not rest:
        return ColumnDef(name, data_type)
    upper = rest.upper()
    if upper == "NOT NULL":
        return ColumnDef(name, data_type, not_null=True)
    if upper == "NULL":
        return ColumnDef(name, data_type)
    return _parse_column_tail(name, data_type, rest, dialect)


def _parse_column_tail(name: str, data_type: str, rest: str, dialect: str) -> ColumnDef | None:
    """The constraint clauses after a column's type, token by token (short texts only)."""
    toks = tokenize(rest, dialect)
    not_null = False
    default: str | None = None
    inline: list[str] = []
    generated: str | None = None
    identity = False
    charset: str | None = None
    collation: str | None = None
    i = 0
    n = len(toks)

    def up(k: int) -> str:
        return toks[k].text.upper() if k < n and toks[k].kind == WORD else ""

    def skip_parens(k: int) -> int:
        """Index after the balanced (…) group starting at k (k must be '(')."""
        depth = 0
        while k < n:
            t = toks[k].text
            if t == "(":
                depth += 1
            elif t == ")":
                depth -= 1
                if depth == 0:
                    return k + 1
            k += 1
        return k

    while i < n:
        w = up(i)
        if w == "NOT" and up(i + 1) == "NULL":
            not_null = True
            i += 2
        elif w == "NULL":
            i += 1
        elif w == "DEFAULT":
            j = i + 1
            # The default expression runs until the next top-level constraint keyword.
            while j < n:
                if toks[j].text == "(":
                    j = skip_parens(j)
                    continue
                if j > i + 1 and toks[j].kind == WORD and toks[j].text.upper() in _TAIL_STOP:
                    break
                j += 1
            if j == i + 1:
                return None
            default = rest[toks[i + 1].start : toks[j - 1].end]
            i = j
        elif w == "PRIMARY" and up(i + 1) == "KEY":
            inline.append("primary_key")
            i += 2
        elif w == "UNIQUE":
            inline.append("unique")
            i += 1
            if up(i) == "KEY":
                i += 1
        elif w == "KEY":  # MySQL: "KEY" alone means PRIMARY KEY on a column
            inline.append("primary_key")
            i += 1
        elif w == "REFERENCES":
            inline.append("foreign_key")
            i += 1
            while i < n and up(i) not in _TAIL_STOP - {"ON"}:
                i = skip_parens(i) if toks[i].text == "(" else i + 1
            while up(i) == "ON" and up(i + 1) in ("DELETE", "UPDATE"):
                i += 3 if up(i + 2) not in ("SET", "NO") else 4
        elif w == "CHECK":
            inline.append("check")
            i += 1
            if i < n and toks[i].text == "(":
                i = skip_parens(i)
        elif w == "CONSTRAINT":
            i += 2
        elif w == "GENERATED":
            # GENERATED ALWAYS AS (expr) STORED | GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY
            j = i + 1
            while j < n and up(j) != "AS":
                j += 1
            if up(j + 1) == "IDENTITY":
                identity = True
                i = j + 2
                if i < n and toks[i].text == "(":
                    i = skip_parens(i)
            else:
                i = skip_parens(j + 1) if j + 1 < n and toks[j + 1].text == "(" else j + 1
                # Unspecified: MySQL's default is VIRTUAL; PostgreSQL's is STORED before 18
                # and VIRTUAL from 18, which the dialect decides.
                generated = "virtual" if dialect == "mysql" else "default"
                if up(i) in ("STORED", "PERSISTENT"):
                    generated = "stored"
                    i += 1
                elif up(i) == "VIRTUAL":
                    generated = "virtual"
                    i += 1
        elif w == "AS" and i + 1 < n and toks[i + 1].text == "(":
            # MySQL / SQLite shorthand: col type AS (expr) [STORED|VIRTUAL]
            i = skip_parens(i + 1)
            generated = "virtual"
            if up(i) in ("STORED", "PERSISTENT"):
                generated = "stored"
                i += 1
            elif up(i) == "VIRTUAL":
                i += 1
        elif w in ("AUTO_INCREMENT", "AUTOINCREMENT"):
            identity = True
            i += 1
        elif w == "COLLATE":
            collation = toks[i + 1].text.strip("`'\"").lower() if i + 1 < n else None
            i += 2
        elif w == "COMMENT":
            i += 2
        elif w == "CHARSET" or (w == "CHARACTER" and up(i + 1) == "SET"):
            i += 1 if w == "CHARSET" else 2
            if i < n and toks[i].text == "=":
                i += 1
            charset = toks[i].text.strip("`'\"").lower() if i < n else None
            i += 1
        elif w == "ON" and up(i + 1) == "UPDATE":
            # MySQL: ON UPDATE CURRENT_TIMESTAMP[(n)]
            i += 3
            if i < n and toks[i].text == "(":
                i = skip_parens(i)
        elif w in ("FIRST", "INVISIBLE", "VISIBLE", "DEFERRABLE"):
            i += 1
        elif w == "AFTER" or w == "INITIALLY" or (w == "NOT" and up(i + 1) == "DEFERRABLE"):
            i += 2
        else:
            return None
    return ColumnDef(name, data_type, not_null, default, tuple(inline), generated, identity,
                     charset, collation)  # fmt: skip


# ---------------------------------------------------------------------------------------
# ALTER TABLE actions

_Clause = Callable[[re.Match[str], str, str], "Action | None"]
# Clause patterns by their first keyword, so a clause is tried only against its own kind.
_ACTIONS: dict[str, list[tuple[re.Pattern[str], _Clause]]] = {}


def _clause(pattern: str) -> Callable[[_Clause], _Clause]:
    # Patterns starting with a literal keyword are keyed by it; alternations go under "*".
    first = _PATTERN_HEAD.match(pattern)
    keys = [first.group(1)] if first else ["*"]

    def deco(fn: _Clause) -> _Clause:
        compiled = re.compile(r"\s*" + pattern + r"\s*$", _F)
        for key in keys:
            _ACTIONS.setdefault(key, []).append((compiled, fn))
        return fn

    return deco


_CONSTRAINT_BODY = rf"""(?:CONSTRAINT\s+(?P<cname>{_ID})\s+)?
    (?P<ctype>CHECK|UNIQUE|PRIMARY\s+KEY|FOREIGN\s+KEY|EXCLUDE)\b(?P<cbody>.*?)"""


@_clause(rf"ADD\s+{_CONSTRAINT_BODY}")
def _add_constraint(m: re.Match[str], table: str, dialect: str) -> Action | None:
    ctype = " ".join(m.group("ctype").upper().split())
    body = m.group("cbody")
    kind = {"CHECK": "check", "UNIQUE": "unique", "PRIMARY KEY": "primary_key",
            "FOREIGN KEY": "foreign_key", "EXCLUDE": "exclusion"}[ctype]  # fmt: skip
    tail = _outside_parens(body).upper()
    not_valid = bool(_NOT_VALID.search(tail))
    using_index = bool(_USING_INDEX.search(tail)) and not re.search(
        r"\bUSING\s+INDEX\s+TABLESPACE\b", tail
    )
    ref = None
    if kind == "foreign_key":
        r = _REFERENCES.search(body)
        if not r:
            return None
        ref = _name(r.group("ref"))
    cname = m.group("cname")
    if using_index and not cname:
        u = _USING_INDEX_NAME.search(body)
        cname = u.group("idx") if u else None
    column = None
    cols = _PAREN_LIST.match(body)
    if cols and kind in ("unique", "primary_key", "foreign_key"):
        names = [_name(c) for c in cols.group(1).split(",") if c.strip()]
        column = ",".join(names) or None
    elif kind == "check":
        nn = _IS_NOT_NULL_CHECK.match(body)
        if nn:
            column = _name(nn.group("col"))
    return Action(
        "add_constraint", table=table, column=column, name=_name(cname) if cname else None,
        constraint=kind, not_valid=not_valid, using_index=using_index, ref_table=ref,
        detail="not_null_check" if kind == "check" and column else None,
    )  # fmt: skip


def _outside_parens(text: str) -> str:
    """``text`` with every parenthesised group removed (for keyword tests on the tail)."""
    prev = None
    while prev != text:
        prev = text
        text = _INNER_PARENS.sub(" ", text)
    return text


@_clause(
    r"ADD\s+(?P<kind>UNIQUE\s+(?:INDEX|KEY)|UNIQUE|INDEX|KEY|FULLTEXT(?:\s+(?:INDEX|KEY))?"
    rf"|SPATIAL(?:\s+(?:INDEX|KEY))?)\s*(?:(?!USING\b)(?P<iname>{_ID}))?\s*(?:USING\s+\w+\s*)?"
    r"\((?P<cols>.*)\)(?P<opts>[^()]*)"
)
def _add_index_mysql(m: re.Match[str], table: str, dialect: str) -> Action | None:
    if dialect != "mysql":
        return None
    kind = m.group("kind").upper()
    name = m.group("iname")
    cols = [_name(c.split("(")[0]) for c in split_top_level(m.group("cols"))]
    return Action(
        "create_index", table=table, column=",".join(cols), name=_name(name) if name else None,
        unique=kind.startswith("UNIQUE"),
        detail="fulltext" if kind.startswith("FULLTEXT") else
        "spatial" if kind.startswith("SPATIAL") else None,
    )  # fmt: skip


_NOT_A_COLUMN = re.compile(
    r"\s*(?:CONSTRAINT|CHECK|UNIQUE|PRIMARY|FOREIGN|EXCLUDE|INDEX|KEY|FULLTEXT|SPATIAL"
    r"|PARTITION|GENERATED|\()\b",
    re.IGNORECASE,
)


@_clause(r"ADD\s+(?:COLUMN\s+)?(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<def>.+)")
def _add_column(m: re.Match[str], table: str, dialect: str) -> Action | None:
    text = m.group("def")
    if _NOT_A_COLUMN.match(text):
        return None
    position = None
    pos = _POSITION.search(text)
    if pos and dialect == "mysql":
        position = " ".join(pos.group(1).split()).lower()
        text = text[: pos.start()]
    col = parse_column_def(text, dialect)
    if col is None:
        return None
    return Action(
        "add_column",
        table=table,
        column=col.name,
        column_def=col,
        if_not_exists=bool(m.group("ine")),
        position=position,
    )


@_clause(
    rf"DROP\s+(?:COLUMN\s+)?(?P<ie>IF\s+EXISTS\s+)?(?!CONSTRAINT\b|INDEX\b|KEY\b|PRIMARY\b"
    rf"|FOREIGN\b|CHECK\b|PARTITION\b)(?P<col>{_ID})(?:\s+(?P<c>CASCADE|RESTRICT))?"
)
def _drop_column(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "drop_column", table=table, column=_name(m.group("col")),
        if_exists=bool(m.group("ie")),
        cascade=(m.group("c") or "").upper() == "CASCADE",
    )  # fmt: skip


@_clause(
    rf"DROP\s+(?P<what>CONSTRAINT|CHECK|FOREIGN\s+KEY)\s+(?P<ie>IF\s+EXISTS\s+)?(?P<n>{_ID})"
    r"(?:\s+(?P<c>CASCADE|RESTRICT))?"
)
def _drop_constraint(m: re.Match[str], table: str, dialect: str) -> Action:
    what = m.group("what").upper()
    ctype = "foreign_key" if what.startswith("FOREIGN") else "check" if what == "CHECK" else None
    return Action(
        "drop_constraint", table=table, name=_name(m.group("n")), constraint=ctype,
        if_exists=bool(m.group("ie")), cascade=(m.group("c") or "").upper() == "CASCADE",
    )  # fmt: skip


@_clause(r"DROP\s+PRIMARY\s+KEY")
def _drop_pk(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action("drop_constraint", table=table, constraint="primary_key")


@_clause(rf"DROP\s+(?:INDEX|KEY)\s+(?P<ie>IF\s+EXISTS\s+)?(?P<n>{_ID})")
def _drop_index_mysql(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "drop_index", table=table, name=_name(m.group("n")), if_exists=bool(m.group("ie"))
    )


@_clause(
    rf"RENAME\s+(?:COLUMN\s+)?(?!TO\b|AS\b|CONSTRAINT\b|INDEX\b|KEY\b)(?P<old>{_ID})\s+TO\s+"
    rf"(?P<new>{_ID})"
)
def _rename_column(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "rename_column", table=table, column=_name(m.group("old")), new_name=_name(m.group("new"))
    )


@_clause(rf"RENAME\s+(?:TO|AS)?\s*(?P<new>{_QN})")
def _rename_table(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action("rename_table", table=table, new_name=_name(m.group("new")))


@_clause(rf"RENAME\s+CONSTRAINT\s+(?P<old>{_ID})\s+TO\s+(?P<new>{_ID})")
def _rename_constraint(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "rename_constraint", table=table, name=_name(m.group("old")), new_name=_name(m.group("new"))
    )


@_clause(rf"RENAME\s+(?:INDEX|KEY)\s+(?P<old>{_ID})\s+TO\s+(?P<new>{_ID})")
def _rename_index_mysql(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "rename_index", table=table, name=_name(m.group("old")), new_name=_name(m.group("new"))
    )


_ALTER_COL = rf"ALTER\s+(?:COLUMN\s+)?(?!CONSTRAINT\b)(?P<col>{_ID})\s+"


@_clause(
    _ALTER_COL + rf"(?:SET\s+DATA\s+)?TYPE\s+(?P<type>{_TYPE})"
    r"(?:\s+COLLATE\s+\S+)?(?:\s+USING\s+(?P<using>.+))?"
)
def _alter_type(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "alter_column_type", table=table, column=_name(m.group("col")),
        data_type=_norm_type(m.group("type")), using=m.group("using"),
    )  # fmt: skip


@_clause(_ALTER_COL + r"(?P<op>SET|DROP)\s+NOT\s+NULL")
def _not_null(m: re.Match[str], table: str, dialect: str) -> Action:
    kind = "set_not_null" if m.group("op").upper() == "SET" else "drop_not_null"
    return Action(kind, table=table, column=_name(m.group("col")))


@_clause(_ALTER_COL + r"SET\s+DEFAULT\s+(?P<expr>.+)")
def _set_default(m: re.Match[str], table: str, dialect: str) -> Action:
    expr = m.group("expr").strip()
    return Action("set_default", table=table, column=_name(m.group("col")), default=expr)


@_clause(_ALTER_COL + r"DROP\s+DEFAULT")
def _drop_default(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action("drop_default", table=table, column=_name(m.group("col")))


@_clause(
    _ALTER_COL + r"(?P<opt>SET\s+(?:STATISTICS|STORAGE|COMPRESSION|\()|RESET\s*\(|OPTIONS\s*\()"
    r".*"
)
def _column_option(m: re.Match[str], table: str, dialect: str) -> Action:
    opt = m.group("opt").upper()
    # SET STATISTICS and SET/RESET (attribute_option …) take SHARE UPDATE EXCLUSIVE; the
    # others ACCESS EXCLUSIVE (docs/hazards.md §9): the pricing needs to know which.
    detail = ("column_statistics" if "STATISTICS" in opt
              else "column_attributes" if opt.endswith("(") and not opt.startswith("OPTIONS")
              else "column_" + opt.split()[-1].strip("(").lower())  # fmt: skip
    return Action("alter_table_option", table=table, column=_name(m.group("col")), detail=detail)


@_clause(
    _ALTER_COL + r"(?P<what>ADD\s+GENERATED|DROP\s+IDENTITY|DROP\s+EXPRESSION|SET\s+GENERATED"
    r"|RESTART|SET\s+(?:INCREMENT|START|MINVALUE|MAXVALUE|CACHE|CYCLE|NO))\b.*"
)
def _identity_option(m: re.Match[str], table: str, dialect: str) -> Action:
    what = " ".join(m.group("what").upper().split())
    # DROP EXPRESSION turns a stored generated column into a plain one: rewrite-free but AE.
    return Action("alter_table_option", table=table, column=_name(m.group("col")), detail=what)


@_clause(r"(?P<kw>MODIFY|CHANGE)\s+(?:COLUMN\s+)?(?P<rest>.+)")
def _mysql_modify(m: re.Match[str], table: str, dialect: str) -> Action | None:
    if dialect != "mysql":
        return None
    rest = m.group("rest")
    old = None
    if m.group("kw").upper() == "CHANGE":
        o = _CHANGE_OLD_NAME.match(rest)
        if not o:
            return None
        old, rest = _name(o.group("old")), o.group("def")
    position = None
    pos = _POSITION.search(rest)
    if pos:
        position = " ".join(pos.group(1).split()).lower()
        rest = rest[: pos.start()]
    col = parse_column_def(rest, dialect)
    if col is None:
        return None
    if old is not None and old != col.name:
        return Action(
            "rename_column", table=table, column=old, new_name=col.name, column_def=col,
            data_type=col.data_type, position=position, detail="change",
        )  # fmt: skip
    return Action(
        "alter_column_type", table=table, column=col.name, column_def=col,
        data_type=col.data_type, position=position, detail="modify",
    )  # fmt: skip


@_clause(rf"VALIDATE\s+CONSTRAINT\s+(?P<n>{_ID})")
def _validate(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action("validate_constraint", table=table, name=_name(m.group("n")))


@_clause(
    r"SET\s+(?P<what>LOGGED|UNLOGGED|TABLESPACE|ACCESS\s+METHOD|WITHOUT\s+OIDS|SCHEMA"
    r"|WITHOUT\s+CLUSTER|\()(?P<arg>.*)"
)
def _set_table(m: re.Match[str], table: str, dialect: str) -> Action:
    what = " ".join(m.group("what").upper().split())
    if what == "SCHEMA":
        return Action("rename_table", table=table, new_name=_name(m.group("arg")), detail="schema")
    if what in ("LOGGED", "UNLOGGED", "TABLESPACE", "ACCESS METHOD"):
        return Action("rewrite_table", table=table, detail="set_" + what.lower().replace(" ", "_"))
    return Action("alter_table_option", table=table, detail="set " + what.lower())


@_clause(rf"DETACH\s+PARTITION\s+(?P<p>{_QN})(?:\s+(?P<how>CONCURRENTLY|FINALIZE))?")
def _detach(m: re.Match[str], table: str, dialect: str) -> Action:
    how = (m.group("how") or "").upper()
    return Action(
        "detach_partition", table=table, name=_name(m.group("p")),
        concurrently=how == "CONCURRENTLY", detail=how.lower() or None,
    )  # fmt: skip


@_clause(rf"ATTACH\s+PARTITION\s+(?P<p>{_QN})\s+.*")
def _attach(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action("attach_partition", table=table, name=_name(m.group("p")))


@_clause(
    r"(?P<what>OWNER\s+TO|ENABLE|DISABLE|REPLICA\s+IDENTITY|CLUSTER\s+ON|INHERIT|NO\s+INHERIT"
    r"|FORCE\s+ROW|NO\s+FORCE\s+ROW|RESET\s*\(|OF\s|NOT\s+OF|COMMENT\s*=?|AUTO_INCREMENT\s*=?"
    r"|ROW_FORMAT\s*=?|KEY_BLOCK_SIZE|STATS_|PACK_KEYS|MAX_ROWS|MIN_ROWS|AVG_ROW_LENGTH)(?P<arg>.*)"
)
def _table_option(m: re.Match[str], table: str, dialect: str) -> Action:
    return Action(
        "alter_table_option", table=table, detail=" ".join(m.group("what").split()).lower()
    )


@_clause(
    r"(?P<what>ENGINE|(?:DEFAULT\s+)?(?:CHARACTER\s+SET|CHARSET|COLLATE)|CONVERT\s+TO|FORCE)"
    r"\b\s*=?\s*(?P<arg>.*)"
)
def _mysql_rebuild(m: re.Match[str], table: str, dialect: str) -> Action | None:
    what = " ".join(m.group("what").upper().split())
    if dialect != "mysql":
        return None
    if what.startswith("DEFAULT") or what in ("CHARACTER SET", "CHARSET", "COLLATE"):
        # Changes the default for new columns only: metadata.
        return Action("alter_table_option", table=table, detail="default_charset")
    if what == "ENGINE" and m.group("arg").strip().strip("'\"`").lower() == "innodb":
        # The usual engine: a "null" ALTER that rebuilds the table in place.
        return Action("rewrite_table", table=table, detail="engine_innodb")
    if what == "CONVERT TO":  # value: the target character set
        cs = re.match(r"\s*(?:CHARACTER\s+SET|CHARSET)\s*=?\s*[`'\"]?(\w+)", m.group("arg"), re.I)
        return Action("rewrite_table", table=table, detail="convert_to",
                      value=cs.group(1).lower() if cs else None)  # fmt: skip
    return Action("rewrite_table", table=table, detail=what.lower().replace(" ", "_"))


_MYSQL_OPTION = re.compile(r"\s*(?P<k>ALGORITHM|LOCK)\s*=?\s*(?P<v>\w+)\s*$", re.IGNORECASE)


# MySQL's ADD UNIQUE KEY / ADD INDEX are index builds: try them before constraints.
_ACTIONS["ADD"].sort(key=lambda entry: entry[1] is not _add_index_mysql)
_CLAUSE_HEAD = re.compile(r"\s*([A-Za-z_]+)")


def _alter_table(sql: str, dialect: str) -> list[Action] | None:
    m = _ALTER_TABLE.match(sql)
    if not m:
        return None
    table = _name(m.group("table"))
    algorithm = lock_clause = None
    actions: list[Action] = []
    for clause in split_top_level(m.group("actions")):
        if not clause.strip():
            return None
        opt = _MYSQL_OPTION.match(clause) if dialect == "mysql" else None
        if opt:
            if opt.group("k").upper() == "ALGORITHM":
                algorithm = opt.group("v").upper()
            else:
                lock_clause = opt.group("v").upper()
            continue
        action = _match_clause(clause, table, dialect)
        if action is None:
            return None
        actions.append(action)
    if not actions:
        return None
    if dialect == "mysql":
        pk = [a for a in actions if a.constraint == "primary_key"]
        if any(a.kind == "drop_constraint" for a in pk) and any(
            a.kind == "add_constraint" for a in pk
        ):
            actions = [_replace(a, detail="replace_pk") if a in pk and a.kind == "drop_constraint"
                       else a for a in actions]  # fmt: skip
    if m.group("if"):
        actions = [_replace(a, if_exists=True) for a in actions]
    if algorithm or lock_clause:
        actions = [_replace(a, algorithm=algorithm, lock_clause=lock_clause) for a in actions]
    return actions


def _match_clause(clause: str, table: str, dialect: str) -> Action | None:
    head = _CLAUSE_HEAD.match(clause)
    if head is None:
        return None
    for pattern, fn in (*_ACTIONS.get(head.group(1).upper(), ()), *_ACTIONS["*"]):
        cm = pattern.match(clause)
        if cm:
            action: Action | None = fn(cm, table, dialect)
            if action is not None:
                return action
    return None


def _replace(action: Action, **changes: object) -> Action:
    from dataclasses import replace

    return replace(action, **changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Other statements

_CREATE_INDEX = re.compile(
    rf"""CREATE\s+(?P<unique>UNIQUE\s+)?(?:FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?P<conc>CONCURRENTLY\s+)?
    (?P<ine>IF\s+NOT\s+EXISTS\s+)?(?:(?!ON\b)(?P<name>{_QN})\s+)?ON\s+(?:ONLY\s+)?(?P<table>{_QN})
    \s*(?:USING\s+(?P<method>\w+)\s*)?\((?P<cols>.*?)\)(?P<rest>[^()]*(?:\([^()]*\)[^()]*)*)$""",
    _F,
)
_DROP = re.compile(
    r"""DROP\s+(?P<what>TABLE|INDEX|VIEW|MATERIALIZED\s+VIEW|SCHEMA|TYPE|SEQUENCE|EXTENSION
    |DOMAIN|TRIGGER|FUNCTION|PROCEDURE|DATABASE)\s+(?P<conc>CONCURRENTLY\s+)?
    (?P<ie>IF\s+EXISTS\s+)?(?P<names>.+?)(?:\s+(?P<c>CASCADE|RESTRICT))?\s*$""",
    _F,
)
_DROP_KIND = {
    "TABLE": "drop_table", "INDEX": "drop_index", "VIEW": "drop_view",
    "MATERIALIZED VIEW": "drop_view", "SCHEMA": "drop_schema", "TYPE": "drop_type",
    "DOMAIN": "drop_type", "SEQUENCE": "drop_table", "EXTENSION": "raw",
    "TRIGGER": "drop_trigger", "FUNCTION": "create_function", "PROCEDURE": "create_function",
    "DATABASE": "drop_schema",
}  # fmt: skip
_CREATE_TABLE = re.compile(
    rf"""CREATE\s+(?:(?:GLOBAL\s+|LOCAL\s+)?(?P<temp>TEMP|TEMPORARY)\s+|UNLOGGED\s+)?TABLE\s+
    (?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<table>{_QN})\s*(?P<rest>.*)""",
    _F,
)
_SET = re.compile(
    rf"""SET\s+(?P<scope>SESSION\s+|LOCAL\s+|GLOBAL\s+|@@(?:SESSION\.|LOCAL\.|GLOBAL\.)?)?
    (?P<name>{_ID}(?:\.{_ID})?)\s*(?:=|\bTO\b)\s*(?P<value>.+)""",
    _F,
)
_TRANSACTION = re.compile(
    r"(?P<w>BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE)\b(?P<rest>.*)",
    _F,
)


def _create_index(sql: str, dialect: str) -> list[Action] | None:
    m = _CREATE_INDEX.match(sql)
    if not m:
        return None
    cols = [c.strip() for c in split_top_level(m.group("cols"))]
    simple = [_name(_SORT_ORDER.sub("", c)) for c in cols if _PLAIN_INDEX_COLUMN.fullmatch(c)]
    rest = m.group("rest").upper()
    algorithm = lock_clause = None
    if dialect == "mysql":
        for key, value in _INDEX_OPTION.findall(rest):
            if key == "ALGORITHM":
                algorithm = value
            else:
                lock_clause = value
    return [
        Action(
            "create_index", table=_name(m.group("table")),
            algorithm=algorithm, lock_clause=lock_clause,
            column=",".join(simple) if len(simple) == len(cols) else None,
            name=_name(m.group("name")) if m.group("name") else None,
            unique=bool(m.group("unique")), concurrently=bool(m.group("conc")),
            if_not_exists=bool(m.group("ine")),
            detail="partial" if _WHERE_WORD.search(rest) else None,
        )
    ]  # fmt: skip


_INDEX_OPTION = re.compile(r"\b(ALGORITHM|LOCK)\s*=?\s*(\w+)")


def _drop(sql: str, dialect: str) -> list[Action] | None:
    m = _DROP.match(sql)
    if not m:
        return None
    what = " ".join(m.group("what").upper().split())
    kind = _DROP_KIND[what]
    names = m.group("names")
    table = None
    if what == "TRIGGER" or (what == "INDEX" and dialect == "mysql"):
        on = _NAME_ON_TABLE.match(names.strip())
        if on:
            names, table = on.group("n"), _name(on.group("t"))
    if what in ("FUNCTION", "PROCEDURE"):
        return [Action("create_function", name=_name(names.split("(")[0]), detail="drop")]
    if what == "EXTENSION":
        return [Action("create_extension", name=_name(names), detail="drop")]
    out = []
    for n in split_top_level(names):
        if not _QUALIFIED_NAME.fullmatch(n):
            return None
        name = _name(n)
        is_table = kind in ("drop_table", "drop_view")
        out.append(Action(
            kind, table=name if is_table else table, name=None if is_table else name,
            if_exists=bool(m.group("ie")), concurrently=bool(m.group("conc")),
            cascade=(m.group("c") or "").upper() == "CASCADE",
            detail="sequence" if what == "SEQUENCE" else
            "materialized" if what.startswith("MATERIALIZED") else None,
        ))  # fmt: skip
    return out


def _create_table(sql: str, dialect: str) -> list[Action] | None:
    m = _CREATE_TABLE.match(sql)
    if not m:
        return None
    table = _name(m.group("table"))
    rest = m.group("rest")
    if not rest.startswith("("):
        if _AS_QUERY.match(rest):
            return [Action("create_table", table=table, from_query=True)]
        part = _PARTITION_OF.match(rest)
        if part:
            of = _PARTITION_PARENT.match(rest)
            parent = _name(of.group(1)) if of else None
            return [Action("create_table", table=table, detail="partition_of",
                           locks_tables=(parent,) if parent else ())]  # fmt: skip
        return None
    body, tail = _paren_body(rest)
    if body is None:
        return None
    if _AS_WORD.match(tail):
        return [Action("create_table", table=table, from_query=True)]
    columns: list[ColumnDef] = []
    pk_cols: list[str] = []
    for element in split_top_level(body):
        e = element.strip()
        if not e:
            return None
        head = e.split(None, 1)[0].upper()
        if head in ("CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "EXCLUDE", "INDEX",
                    "KEY", "FULLTEXT", "SPATIAL", "LIKE", "PERIOD"):  # fmt: skip
            pk = _TABLE_PRIMARY_KEY.search(e)
            if pk:
                pk_cols.extend(_name(c) for c in pk.group(1).split(","))
            continue
        col = parse_column_def(e, dialect)
        if col is None:
            return None
        columns.append(col)
    if pk_cols:
        columns = [
            _replace_col(c, inline=(*c.inline, "primary_key"))
            if c.name in pk_cols and "primary_key" not in c.inline else c
            for c in columns
        ]  # fmt: skip
    detail = "temporary" if m.group("temp") else None
    names = (_name(r.group("ref")) for r in _REFERENCES.finditer(_strip_strings(body)))
    referenced = tuple(dict.fromkeys(n for n in names if n != table))
    return [Action("create_table", table=table, columns=tuple(columns),
                   if_not_exists=bool(m.group("ine")), detail=detail,
                   locks_tables=referenced)]  # fmt: skip


def _replace_col(col: ColumnDef, **changes: object) -> ColumnDef:
    from dataclasses import replace

    return replace(col, **changes)  # type: ignore[arg-type]


def _paren_body(text: str) -> tuple[str | None, str]:
    """Split "(…) tail" into the balanced body and the tail."""
    depth = 0
    quote = ""
    pos = 0
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i < pos:
            continue
        c = m.group()
        if quote:
            if c == quote:
                if text.startswith(quote, i + 1):
                    pos = i + 2
                else:
                    quote = ""
            continue
        if c in ("'", '"', "`"):
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[1:i], text[i + 1 :]
    return None, ""


def _set(sql: str, dialect: str) -> list[Action] | None:
    m = _SET.match(sql)
    if not m:
        if _SET_OTHER.fullmatch(sql):  # fmt: skip
            return [Action("set_option", name=sql.split()[1].lower())]
        return None
    value = m.group("value").strip()
    if value[:1] in ("'", '"') and value[-1:] == value[:1]:
        value = value[1:-1]
    # PostgreSQL's SET LOCAL lasts until the transaction ends (file_state.py needs to know).
    scope = "local" if (m.group("scope") or "").strip().upper() == "LOCAL" else None
    return [Action("set_option", name=_name(m.group("name")), value=value, detail=scope)]


def _transaction(sql: str, dialect: str) -> list[Action] | None:
    m = _TRANSACTION.match(sql)
    if not m:
        return None
    w = m.group("w").upper().split()[0]
    detail = {"BEGIN": "begin", "START": "begin", "COMMIT": "commit", "END": "commit",
              "ROLLBACK": "rollback", "ABORT": "rollback", "SAVEPOINT": "savepoint",
              "RELEASE": "savepoint"}[w]  # fmt: skip
    if w == "ROLLBACK" and _TO_WORD.match(m.group("rest")):
        detail = "savepoint"
    return [Action("transaction", detail=detail)]


def _has_top_level_where(sql: str) -> bool:
    """A WHERE that can leave rows out: ``WHERE true`` / ``1 = 1`` / ``NOT false`` select
    every row (a tool's or a habit's placeholder), so they count as none."""
    if not _WHERE.search(_outside_parens(_strip_strings(sql))):
        return False
    # The condition: after the last WHERE (a WHERE inside a string after it leaves a tail
    # that is no tautology, so the statement keeps its WHERE: the safe side).
    tail = sql[sql.upper().rfind("WHERE") + 5 :]
    return not _ALWAYS_TRUE.fullmatch(tail.strip().rstrip(";").strip())


# Conditions every row meets: TRUE, NOT FALSE, 1 = 1, 'a' = 'a' (the same literal twice).
_ALWAYS_TRUE = re.compile(
    r"\(?\s*(?:TRUE|NOT\s+FALSE|(?P<lit>\d+|'[^']*')\s*=\s*(?P=lit))\s*\)?", re.IGNORECASE
)


def _strip_strings(sql: str) -> str:
    return _STRINGS_AND_BODIES.sub("''", sql)


_DML = re.compile(
    rf"""(?:WITH\b.*?\)\s*)?(?P<verb>UPDATE|DELETE\s+FROM|DELETE|INSERT\s+(?:IGNORE\s+)?INTO|INSERT
    |REPLACE\s+INTO)\s+(?:ONLY\s+)?(?P<table>{_QN})""",
    _F,
)


def _dml(sql: str, dialect: str) -> list[Action] | None:
    m = _DML.match(sql)
    if not m:
        return None
    verb = m.group("verb").upper().split()[0]
    kind = {"UPDATE": "data_update", "DELETE": "data_delete"}.get(verb, "data_insert")
    table = _name(m.group("table"))
    has_where = _has_top_level_where(sql)
    detail = None
    if has_where and kind != "data_insert":
        where = _WHERE.search(sql)
        tail = sql[where.start() :] if where else ""
        if any(_name(t) == table for t in _FROM_TABLE.findall(tail)):
            detail = "self_subquery"  # the WHERE reads the table again (NOT IN (SELECT … FROM t))
    return [Action(kind, table=table, has_where=has_where, detail=detail)]


_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_FROM_TABLE = re.compile(rf"\bFROM\s+({_QN})", re.IGNORECASE)


def _truncate(sql: str, dialect: str) -> list[Action] | None:
    m = re.match(r"TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?(?P<names>.+?)"
                 r"(?:\s+(?:RESTART|CONTINUE)\s+IDENTITY)?(?:\s+(?:CASCADE|RESTRICT))?$", sql, _F)  # fmt: skip
    if not m:
        return None
    return [Action("truncate", table=_name(n)) for n in m.group("names").split(",")]


def _rename_table_mysql(sql: str, dialect: str) -> list[Action] | None:
    m = _RENAME_TABLES.match(sql)
    if not m:
        return None
    out = []
    for pair in m.group("pairs").split(","):
        p = _RENAME_PAIR.fullmatch(pair)
        if not p:
            return None
        out.append(Action("rename_table", table=_name(p.group("a")), new_name=_name(p.group("b"))))
    return out


def _alter_other(sql: str, dialect: str) -> list[Action] | None:
    m = re.match(rf"ALTER\s+TYPE\s+(?P<t>{_QN})\s+(?P<op>ADD\s+VALUE|RENAME\s+VALUE|RENAME\s+TO"
                 r"|ADD\s+ATTRIBUTE|OWNER\s+TO)\b(?P<rest>.*)", sql, _F)  # fmt: skip
    if m:
        op = " ".join(m.group("op").upper().split())
        detail = op.lower().replace(" ", "_")
        val = _STRING_LITERAL.search(m.group("rest"))
        return [Action("alter_enum", name=_name(m.group("t")), detail=detail,
                       value=val.group(1) if val else None,
                       if_not_exists=bool(_IF_NOT_EXISTS.match(m.group("rest"))))]  # fmt: skip
    m = re.match(rf"ALTER\s+INDEX\s+(?:IF\s+EXISTS\s+)?(?P<i>{_QN})\s+(?P<op>RENAME\s+TO|SET|RESET"
                 r"|ALTER|ATTACH\s+PARTITION)\s+(?P<rest>.+)", sql, _F)  # fmt: skip
    if m:
        op = m.group("op").upper()
        if op.startswith("RENAME"):
            return [
                Action("rename_index", name=_name(m.group("i")), new_name=_name(m.group("rest")))
            ]
        return [Action("alter_table_option", name=_name(m.group("i")), detail="index_option")]
    m = _ALTER_SCHEMA_RENAME.match(sql)
    if m:
        return [Action("rename_schema", name=_name(m.group("s")), new_name=_name(m.group("n")))]
    m = _ALTER_SEQUENCE.match(sql)
    if m:
        return [Action("alter_table_option", name=_name(m.group("s")), detail="sequence")]
    m = re.match(rf"ALTER\s+(?:MATERIALIZED\s+)?VIEW\s+(?:IF\s+EXISTS\s+)?(?P<v>{_QN})\s+RENAME\s+"
                 rf"(?:TO\s+)?(?P<n>{_QN})$", sql, _F)  # fmt: skip
    if m:
        return [Action("rename_table", table=_name(m.group("v")), new_name=_name(m.group("n")),
                       detail="view")]  # fmt: skip
    return None


def _create_other(sql: str, dialect: str) -> list[Action] | None:
    m = re.match(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?"
                 r"(?P<what>EXTENSION|SCHEMA|DATABASE|SEQUENCE|TYPE|DOMAIN|FUNCTION|PROCEDURE"
                 r"|(?:CONSTRAINT\s+)?TRIGGER|(?:MATERIALIZED\s+|RECURSIVE\s+)?VIEW|AGGREGATE"
                 r"|OPERATOR|COLLATION|ROLE|USER|POLICY|PUBLICATION|SUBSCRIPTION|RULE"
                 rf"|TEXT\s+SEARCH\s+\w+)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_QN})?(?P<rest>.*)",
                 sql, _F)  # fmt: skip
    if not m:
        return None
    what = " ".join(m.group("what").upper().split())
    name = _name(m.group("name")) if m.group("name") else None
    rest = m.group("rest")
    if what in ("EXTENSION",):
        return [Action("create_extension", name=name)]
    if what in ("SCHEMA", "DATABASE"):
        return [Action("create_schema", name=name)]
    if what == "SEQUENCE":
        return [Action("create_sequence", name=name)]
    if what in ("TYPE", "DOMAIN"):
        return [Action("create_type", name=name)]
    if what in ("FUNCTION", "PROCEDURE") and _BODY_DDL.search(_strip_leading_signature(rest)):
        return [raw(f"{what.lower()} {name} runs DDL or dynamic SQL in its body", detail="dynamic")]
    if what in ("FUNCTION", "PROCEDURE", "AGGREGATE", "OPERATOR"):
        return [Action("create_function", name=name)]
    if what.endswith("TRIGGER"):
        on = _ON_TABLE.search(rest)
        return [Action("create_trigger", name=name, table=_name(on.group("t")) if on else None)]
    if what.endswith("VIEW"):
        replace_ = bool(_OR_REPLACE.match(sql))
        return [Action("create_view", table=name, detail="replace" if replace_ else
                       "materialized" if what.startswith("MATERIALIZED") else None)]  # fmt: skip
    if what == "POLICY":
        on = _ON_TABLE.search(rest)
        return [Action("alter_table_option", table=_name(on.group("t")) if on else None,
                       name=name, detail="policy")]  # fmt: skip
    return [Action("grant", name=name, detail=what.lower())]


# Schema changes or dynamic SQL inside a routine body: nothing there can be checked.
_BODY_DDL = re.compile(
    r"\b(?:ALTER\s+(?:TABLE|TYPE|INDEX|SCHEMA)|DROP\s+(?:TABLE|INDEX|COLUMN|SCHEMA|TYPE|VIEW)"
    r"|CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)|TRUNCATE|EXECUTE\s+(?!FUNCTION|PROCEDURE))\b",
    re.IGNORECASE,
)


def _strip_leading_signature(rest: str) -> str:
    """The routine's body and options, without its parameter list."""
    return rest.split(")", 1)[1] if ")" in rest else rest


def _create(sql: str, dialect: str) -> list[Action] | None:
    return _create_index(sql, dialect) or _create_table(sql, dialect) or _create_other(sql, dialect)


def _alter(sql: str, dialect: str) -> list[Action] | None:
    return _alter_table(sql, dialect) or _alter_other(sql, dialect)


def _do(sql: str, dialect: str) -> list[Action] | None:
    return [raw("DO block: procedural code is not analysed", detail="dynamic")]


def _execute(sql: str, dialect: str) -> list[Action] | None:
    return [raw("dynamic SQL (EXECUTE/CALL) is not analysed", detail="dynamic")]


def _vacuum(sql: str, dialect: str) -> list[Action] | None:
    m = re.match(rf"VACUUM\s*(?P<opts>\([^()]*\)|(?:(?:FULL|FREEZE|VERBOSE|ANALYZE)\s+)*)"
                 rf"\s*(?P<t>{_QN})?", sql, _F)  # fmt: skip
    if not m:
        return None
    table = _name(m.group("t")) if m.group("t") else None
    if re.search(r"\bFULL\b(?!\s+(?:false|off|0)\b)", m.group("opts") or "", re.I):
        return [Action("rewrite_table", table=table, detail="vacuum_full")]
    return [Action("alter_table_option", table=table, detail="vacuum")]


def _cluster(sql: str, dialect: str) -> list[Action] | None:
    m = _CLUSTER.match(sql)
    if not m:
        return None
    return [Action("rewrite_table", table=_name(m.group("t")) if m.group("t") else None,
                   detail="cluster")]  # fmt: skip


def _reindex(sql: str, dialect: str) -> list[Action] | None:
    m = re.match(rf"REINDEX\s*(?:\([^()]*\)\s*)?(?P<what>TABLE|INDEX|SCHEMA|DATABASE|SYSTEM)\s+"
                 rf"(?P<conc>CONCURRENTLY\s+)?(?P<n>{_QN})", sql, _F)  # fmt: skip
    if not m:
        return None
    what = m.group("what").upper()
    name = _name(m.group("n"))
    return [Action("reindex", table=name if what == "TABLE" else None,
                   name=None if what == "TABLE" else name, detail=what.lower(),
                   concurrently=bool(m.group("conc")))]  # fmt: skip


def _analyze(sql: str, dialect: str) -> list[Action] | None:
    return [Action("alter_table_option", detail="analyze")]


def _simple(kind: str) -> Callable[[str, str], list[Action] | None]:
    return lambda sql, dialect: [Action(kind)]


def _lock(sql: str, dialect: str) -> list[Action] | None:
    m = re.match(rf"LOCK\s+(?:TABLE\s+)?(?:ONLY\s+)?(?P<t>{_QN})(?:\s*,\s*{_QN})*"
                 r"(?:\s+IN\s+(?P<mode>[A-Z ]+?)\s+MODE)?(?:\s+NOWAIT)?$", sql, _F)  # fmt: skip
    if not m:
        return None
    mode = " ".join((m.group("mode") or "ACCESS EXCLUSIVE").upper().split())
    return [Action("alter_table_option", table=_name(m.group("t")), detail="lock " + mode)]


_DISPATCH: dict[str, Callable[[str, str], list[Action] | None]] = {
    "ALTER": _alter,
    "CREATE": _create,
    "DROP": _drop,
    "SET": _set,
    "RESET": lambda sql, dialect: [Action("set_option", name=[*sql.split(), ""][1].lower()
                                          .strip(";") or None, detail="reset")],
    "BEGIN": _transaction,
    "START": _transaction,
    "COMMIT": _transaction,
    "END": _transaction,
    "ROLLBACK": _transaction,
    "ABORT": _transaction,
    "SAVEPOINT": _transaction,
    "RELEASE": _transaction,
    "UPDATE": _dml,
    "DELETE": _dml,
    "INSERT": _dml,
    "REPLACE": _dml,
    "WITH": _dml,
    "TRUNCATE": _truncate,
    "RENAME": _rename_table_mysql,
    "DO": _do,
    "EXECUTE": _execute,
    "CALL": _execute,
    "VACUUM": _vacuum,
    "CLUSTER": _cluster,
    "REINDEX": _reindex,
    "ANALYZE": _analyze,
    "ANALYSE": _analyze,
    "COMMENT": _simple("comment"),
    "GRANT": _simple("grant"),
    "REVOKE": _simple("grant"),
    "LOCK": _lock,
    "SELECT": _simple("select"),
    "VALUES": _simple("select"),
    "SHOW": _simple("select"),
    "PRAGMA": _simple("set_option"),
    "USE": _simple("set_option"),
}
_FIRST_WORD = re.compile(r"\s*([A-Za-z_]+)")


def recognize(sql: str, dialect: str) -> list[Action] | None:
    """Actions for ``sql`` if it has a shape we know for sure, else None."""
    text = strip_comments(sql).strip().rstrip(";").strip()
    m = _FIRST_WORD.match(text)
    if not m:
        return None
    handler = _DISPATCH.get(m.group(1).upper())
    if handler is None:
        return None
    return handler(text, dialect)


__all__ = ["QUOTED", "STRING", "Token", "recognize", "split_top_level", "strip_comments"]
