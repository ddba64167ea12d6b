"""MySQL/MariaDB type families: does a MODIFY keep every value the old app writes?

A *widening* holds every old value and every value the old app version still writes, so
it is backward-compatible; the server still copies the table (ALGORITHM=COPY, measured on
MariaDB 10.11 for each family below in ``tests/db/test_mariadb_type_families.py``; MySQL
8.0 the same: "Changing the column data type is only supported with ALGORITHM=COPY",
manual 15.12.1 Online DDL Operations, Column Operations), except the VARCHAR length cases
``mysql._varchar_widening`` knows. A *narrowing* can reject values: breaking.

Families: character strings (CHAR, VARCHAR, the TEXT family), byte strings (BINARY,
VARBINARY, the BLOB family), exact decimals, floating point, integers (with signedness).
Strings are compared in bytes, with the column's character set (utf8mb4 when not known).
"""

from __future__ import annotations

import re

# Maximum length in bytes of the TEXT and BLOB types.
_TEXT_BYTES = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295}
_BLOB_BYTES = {"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295}
_SIZED = re.compile(r"^(char|varchar|binary|varbinary)\s*\((\d+)\)")
_DECIMAL = re.compile(r"^(?:decimal|numeric|dec|fixed)\s*(?:\((\d+)\s*(?:,\s*(\d+))?\))?")
_INT_RANK = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "integer": 4, "bigint": 8}
_FLOAT_RANK = {"float": 4, "real": 8, "double": 8, "double precision": 8}
BYTES_PER_CHAR = {"latin1": 1, "ascii": 1, "binary": 1, "utf8mb3": 3, "utf8": 3, "utf8mb4": 4,
                  "ucs2": 2, "utf16": 4, "utf32": 4}  # fmt: skip
# Character sets that hold every character of another (target → the sets it holds).
_HOLDS = {
    "utf8mb4": {"utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "ucs2", "utf16", "utf32"},
    "utf8mb3": {"utf8mb3", "utf8", "latin1", "ascii", "ucs2"},
    "utf8": {"utf8mb3", "utf8", "latin1", "ascii", "ucs2"},
    "utf16": {"utf16", "utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "ucs2", "utf32"},
    "utf32": {"utf32", "utf16", "utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "ucs2"},
    "latin1": {"latin1", "ascii"},
}


def _base(t: str) -> str:
    return t.replace(" unsigned", "").replace(" zerofill", "").strip()


def _string(t: str, per_char: int) -> tuple[str, int, bool] | None:
    """(family, capacity in bytes, fixed-width CHAR) of a string type, None for others."""
    b = _base(t)
    m = _SIZED.match(b)
    if m:
        kind, n = m.group(1), int(m.group(2))
        family = "bytes" if "binary" in kind else "chars"
        return family, n * (1 if family == "bytes" else per_char), kind in ("char", "binary")
    if b in _TEXT_BYTES:
        return "chars", _TEXT_BYTES[b], False
    if b in _BLOB_BYTES:
        return "bytes", _BLOB_BYTES[b], False
    return None


def _decimal(t: str) -> tuple[int, int] | None:
    m = _DECIMAL.match(_base(t))
    if not m:
        return None
    precision = int(m.group(1)) if m.group(1) else 10
    return precision, int(m.group(2)) if m.group(2) else 0


def _int(t: str) -> tuple[int, bool] | None:
    rank = _INT_RANK.get(_base(t).split("(")[0].strip())
    return None if rank is None else (rank, "unsigned" in t)


def widens(old: str, new: str, old_charset: str | None = None,
           new_charset: str | None = None) -> bool | None:  # fmt: skip
    """True: every old value and old write fits ``new``; False: it can reject some; None:
    the types are not in one family we know (the caller assumes the worst)."""
    old_per = BYTES_PER_CHAR.get(old_charset or "utf8mb4", 4)
    new_per = BYTES_PER_CHAR.get(new_charset or "utf8mb4", 4)
    os_, ns = _string(old, old_per), _string(new, new_per)
    if os_ and ns:
        if os_[0] != ns[0]:
            return False  # characters ↔ bytes: comparison and the values' meaning change
        if not charset_holds(old_charset, new_charset):
            return False
        # VARCHAR/TEXT → CHAR pads and strips trailing spaces: not every value survives.
        if ns[2] and not os_[2]:
            return False
        # A CHAR/VARCHAR length counts characters in any character set: compare lengths
        # when both sides are sized; against the TEXT/BLOB family, compare bytes.
        old_sized, new_sized = _SIZED.match(_base(old)), _SIZED.match(_base(new))
        if old_sized and new_sized:
            return int(new_sized.group(2)) >= int(old_sized.group(2))
        return ns[1] >= os_[1]
    if os_ or ns:
        return None
    od, nd = _decimal(old), _decimal(new)
    if od and nd:
        return nd[1] >= od[1] and nd[0] - nd[1] >= od[0] - od[1]
    oi, ni = _int(old), _int(new)
    if oi and ni:
        if oi[1] == ni[1]:
            return ni[0] >= oi[0]
        # unsigned → signed needs a larger type; signed → unsigned drops negatives
        return ni[0] > oi[0] if oi[1] else False
    of, nf = _FLOAT_RANK.get(_base(old).split("(")[0]), _FLOAT_RANK.get(_base(new).split("(")[0])
    if of and nf:
        return nf >= of
    return None


def charset_holds(old: str | None, new: str | None) -> bool:
    """Whether the target character set holds every character of the old one (no new one
    named: it stays; an unknown old one: assume utf8mb4, the default)."""
    old = old or "utf8mb4"
    if not new or old == new:
        return True
    return old in _HOLDS.get(new, {new})
