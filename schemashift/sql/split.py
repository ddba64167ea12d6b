"""Split a migration into statements with 1-based lines, original text and context.

Handles what real migration files contain: ``$$`` bodies with semicolons, doubled
``;;``, comments (kept as the statement's *leading comments*, where suppressions live),
MySQL ``DELIMITER`` blocks, SQLite/MySQL trigger bodies (``BEGIN … END;``), and
``BEGIN``/``COMMIT`` (each statement knows whether an explicit transaction is open).
"""

from __future__ import annotations

import re
from dataclasses import replace as dc_replace
from typing import NamedTuple

from schemashift.model import Statement
from schemashift.sql.tokens import COMMENT, SEMI, WORD, Token, tokenize


class SplitStatement(NamedTuple):
    """A statement and its tokens (comments removed; empty on the fast path)."""

    statement: Statement
    tokens: tuple[Token, ...]
    # Offset of the statement's text in the file: token offsets are relative to the file.
    offset: int


_DELIMITER_LINE = re.compile(r"^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_TX_BEGIN = {"BEGIN", "START"}
_TX_END = {"COMMIT", "END", "ROLLBACK", "ABORT"}


def split_sql(text: str, file: str = "-", dialect: str = "postgres") -> list[SplitStatement]:
    """Every statement of ``text`` in source order. Never raises."""
    if dialect == "mysql" and "/*" in text:
        text = _unwrap_executable_comments(text)
    if dialect == "mysql" and _DELIMITER_LINE.search(text):
        out = _split_with_delimiters(text, file)
    else:
        fast = (_fast_split(text, file, dialect)
                if dialect == "postgres" or not _ROUTINE.search(text) else None)  # fmt: skip
        out = fast if fast is not None else _Splitter(text, file, dialect).run(
            tokenize(text, dialect), ";")  # fmt: skip
    return _attach_trailing(text, out) if "schemashift" in text else out


# MySQL's executable comments (``/*!40101 CHARACTER SET utf8 */``, MariaDB's ``/*M!100100
# …*/``): the server runs their text, and mysqldump writes table options and column
# character sets in them. Unwrapped in place, same length, so lines and offsets stay.
_EXECUTABLE = re.compile(r"/\*M?!(\d{5,6})?(.*?)\*/", re.DOTALL)


def _unwrap_executable_comments(text: str) -> str:
    if "/*!" not in text and "/*M!" not in text:
        return text
    return _EXECUTABLE.sub(
        lambda m: " " * (m.start(2) - m.start()) + m.group(2) + "  ", text)


# One regex match per statement: everything up to the next top-level ";". Strings,
# quoted identifiers, comments and $$ bodies are consumed whole, so their ";" do not split.
_PG_PIECE = "|".join(
    [
        r"[^;'\"$/eE-]+",  # ordinary text
        r"[eE](?!')",  # an e that does not open an E'' string
        r"[eE]'(?:[^'\\]|''|\\.)*'",  # E'…' with backslash escapes
        r"'(?:[^']|'')*'",  # standard string
        r'"(?:[^"]|"")*"',  # quoted identifier
        r"\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*|)\$.*?\$(?P=tag)\$",  # dollar-quoted body
        r"--[^\n]*",
        r"/\*.*?\*/",
        r"[$/-]",
        r"['\"].*|/\*.*",  # unterminated: the rest of the file
    ]
)
_MY_PIECE = "|".join(
    [
        r"[^;'\"`/#-]+",
        r"'(?:[^'\\]|''|\\.)*'",
        r'"(?:[^"\\]|""|\\.)*"',
        r"`(?:[^`]|``)*`",
        r"--[^\n]*",
        r"\#[^\n]*",
        r"/\*.*?\*/",
        r"[/-]",
        r"['\"`].*|/\*.*",
    ]
)
_PIECE = {
    "postgres": re.compile(f"(?:{_PG_PIECE})+", re.DOTALL),
    "mysql": re.compile(f"(?:{_MY_PIECE})+", re.DOTALL),
}
_PIECE["sqlite"] = _PIECE["postgres"]
_LEADING = {
    "postgres": re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL),
    "mysql": re.compile(r"(?:\s+|--[^\n]*|\#[^\n]*|/\*.*?\*/)*", re.DOTALL),
}
_LEADING["sqlite"] = _LEADING["postgres"]
_COMMENT_TEXT = re.compile(r"--[^\n]*|\#[^\n]*|/\*.*?\*/", re.DOTALL)
_ROUTINE = re.compile(r"\b(?:TRIGGER|PROCEDURE|FUNCTION|EVENT)\b", re.IGNORECASE)
_TX_PREFIXES = frozenset({"BEG", "STA", "COM", "END", "ROL", "ABO"})
_TX_WORDS = re.compile(r"(\w+)(?:\s+(\w+))?")


def _fast_split(text: str, file: str, dialect: str) -> list[SplitStatement] | None:
    """The common case in C-speed regex passes; None when the token splitter must do it."""
    piece_re = _PIECE.get(dialect, _PIECE["postgres"])
    leading_re = _LEADING.get(dialect, _LEADING["postgres"])
    out: list[SplitStatement] = []
    in_tx = False
    line, line_pos = 1, 0
    count = text.count
    for index_m in piece_re.finditer(text):
        start, end = index_m.span()
        lead = leading_re.match(text, start)
        body_start = lead.end() if lead else start
        if body_start >= end:
            continue  # empty statement (";;") or comments only
        sql = text[body_start:end].rstrip()
        comments = text[start:body_start]
        if "/*" in comments and "/*" in comments[comments.index("/*") + 2 :]:
            return None  # nested block comments: leave them to the token splitter
        line += count("\n", line_pos, body_start)
        line_pos = body_start
        opens = closes = False
        head = _TX_WORDS.match(sql) if sql[:3].upper() in _TX_PREFIXES else None
        if head:
            w1 = head.group(1).upper()
            w2 = (head.group(2) or "").upper()
            if w1 in _TX_BEGIN:
                opens = (w1 == "START" and w2 == "TRANSACTION") or (
                    w1 == "BEGIN" and (not w2 or w2 in _BEGIN_FOLLOWERS)
                )
            elif w1 in _TX_END:
                closes = not (w1 == "ROLLBACK" and w2 == "TO")
        if opens:
            in_tx = True
        leading = (
            "\n".join(m.group().strip() for m in _COMMENT_TEXT.finditer(comments))
            if "-" in comments or "/" in comments or "#" in comments
            else ""
        )
        statement = Statement(file, line, sql, len(out), leading, in_tx)
        out.append(SplitStatement(statement, (), body_start))
        if closes:
            in_tx = False
    return out


_BEGIN_FOLLOWERS = frozenset(
    {"TRANSACTION", "WORK", "ISOLATION", "READ", "DEFERRABLE", "NOT", "DEFERRED",
     "IMMEDIATE", "EXCLUSIVE"}
)  # fmt: skip


def _split_with_delimiters(text: str, file: str) -> list[SplitStatement]:
    """MySQL client scripts: ``DELIMITER //`` changes the statement terminator."""
    out: list[SplitStatement] = []
    splitter = _Splitter(text, file, "mysql")
    delimiter = ";"
    pos = 0
    for m in _DELIMITER_LINE.finditer(text):
        segment = _blank_outside(text, pos, m.start())
        out.extend(splitter.run(tokenize(segment, "mysql"), delimiter, start=pos, stop=m.start()))
        delimiter = m.group(1)
        pos = m.end()
    segment = _blank_outside(text, pos, len(text))
    out.extend(splitter.run(tokenize(segment, "mysql"), delimiter, start=pos, stop=len(text)))
    return out


def _blank_outside(text: str, start: int, stop: int) -> str:
    """``text`` with everything outside [start, stop) blanked, so offsets stay file-wide."""
    blank = "".join("\n" if c == "\n" else " " for c in text[:start])
    return blank + text[start:stop]


class _Splitter:
    def __init__(self, text: str, file: str, dialect: str) -> None:
        self.text = text
        self.file = file
        self.dialect = dialect
        self.in_transaction = False
        self.index = 0
        self._line_pos = 0
        self._line = 1

    def _line_of(self, pos: int) -> int:
        # Statements arrive in order, so count newlines incrementally.
        if pos < self._line_pos:
            self._line_pos, self._line = 0, 1
        self._line += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def run(
        self, tokens: list[Token], delimiter: str, start: int = 0, stop: int | None = None
    ) -> list[SplitStatement]:
        out: list[SplitStatement] = []
        body: list[Token] = []
        comments: list[Token] = []
        depth = 0  # BEGIN … END nesting inside trigger / routine bodies
        routine = False
        custom = delimiter != ";"
        text = self.text
        skip_until = -1  # the rest of a multi-character custom delimiter
        for tok in tokens:
            if tok.start < start or (stop is not None and tok.start >= stop):
                continue
            kind = tok.kind
            if tok.start < skip_until:
                continue
            if kind == COMMENT:
                if not body:
                    comments.append(tok)
                continue
            ends = (
                text.startswith(delimiter, tok.start) if custom else (kind == SEMI and depth == 0)
            )
            if ends:
                skip_until = tok.start + len(delimiter)
                if body:
                    out.append(self._emit(body, comments))
                body, comments, depth, routine = [], [], 0, False
                continue
            if kind == WORD and not custom and self.dialect != "postgres":
                upper = tok.text.upper()
                if not body and upper == "CREATE":
                    routine = False
                elif len(body) < 8 and upper in ("TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"):
                    routine = routine or (bool(body) and body[0].upper == "CREATE")
                elif routine and upper in ("BEGIN", "CASE", "IF", "LOOP", "WHILE", "REPEAT"):
                    # IF/LOOP/... are also closed by END (END IF, END LOOP).
                    if not (
                        upper in ("IF", "LOOP", "WHILE", "REPEAT", "CASE")
                        and body
                        and body[-1].upper == "END"
                    ):
                        depth += 1
                elif routine and upper == "END":
                    depth = max(0, depth - 1)
            body.append(tok)
        if body:
            out.append(self._emit(body, comments))
        return out

    def _emit(self, body: list[Token], comments: list[Token]) -> SplitStatement:
        first, last = body[0], body[-1]
        sql = self.text[first.start : last.end]
        leading = "\n".join(c.text for c in comments)
        head = first.upper
        opens = head in _TX_BEGIN and self._opens_transaction(body)
        closes = head in _TX_END and self._closes_transaction(body)
        if opens:
            self.in_transaction = True
        statement = Statement(
            file=self.file,
            line=self._line_of(first.start),
            sql=sql,
            index=self.index,
            leading_comments=leading,
            in_transaction=self.in_transaction,
        )
        if closes:
            self.in_transaction = False
        self.index += 1
        return SplitStatement(statement, tuple(body), first.start)

    @staticmethod
    def _opens_transaction(body: list[Token]) -> bool:
        if body[0].upper == "START":
            return len(body) > 1 and body[1].upper == "TRANSACTION"
        # "BEGIN" alone, BEGIN TRANSACTION / WORK / ISOLATION … / DEFERRED (SQLite) …
        return len(body) == 1 or body[1].upper in _BEGIN_FOLLOWERS

    @staticmethod
    def _closes_transaction(body: list[Token]) -> bool:
        # ROLLBACK TO SAVEPOINT keeps the transaction open.
        return not (len(body) > 1 and body[0].upper == "ROLLBACK" and body[1].upper == "TO")


def _attach_trailing(text: str, items: list[SplitStatement]) -> list[SplitStatement]:
    """A ``schemashift:`` comment after a statement, on the line it ends, is that
    statement's (``DROP COLUMN c; -- schemashift: ignore SS103 …``): the splitters hand
    comments to the statement that follows them."""
    out = list(items)
    for i, item in enumerate(out):
        end = item.offset + len(item.statement.sql)
        nl = text.find("\n", end)
        stop = len(text) if nl < 0 else nl
        at = text.find("schemashift", end, stop)
        if at < 0:
            continue
        line_rest = text[end:stop]
        m = re.search(r"(--|#)[^\n]*", line_rest)
        if m is None or m.start() > at - end:
            continue
        comment = m.group().strip()
        st = item.statement
        out[i] = item._replace(statement=dc_replace(
            st, leading_comments=f"{st.leading_comments}\n{comment}".strip()))  # fmt: skip
        if i + 1 < len(out):
            nxt = out[i + 1].statement
            lines = nxt.leading_comments.split("\n")
            if comment in lines:
                lines.remove(comment)
                out[i + 1] = out[i + 1]._replace(
                    statement=dc_replace(nxt, leading_comments="\n".join(lines)))  # fmt: skip
    return out
