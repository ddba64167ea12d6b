"""PL/pgSQL text: dollar quoting that no body can break, DO blocks, and dynamic statements
built by concatenation (never ``format()`` with names pasted into its template, where a
``%`` in a name would be read as a directive).
"""

from __future__ import annotations

from dataclasses import dataclass


def literal(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: only ' is special)."""
    return "'" + text.replace("'", "''") + "'"


def dollar_quote(body: str, tag: str = "schemashift") -> str:
    """``body`` between dollar quotes whose tag occurs nowhere in it."""
    n = 0
    candidate = f"${tag}$"
    while candidate in body:
        n += 1
        candidate = f"${tag}_{n}$"
    return f"{candidate}\n{body.rstrip()}\n{candidate}"


def do_block(body: str) -> str:
    """A ``DO`` block: for steps that act on what the catalog says at run time."""
    return f"DO {dollar_quote(body)}"


@dataclass(frozen=True)
class Dyn:
    """A PL/pgSQL expression whose text value goes into a dynamic statement as it is (a
    default expression from pg_get_expr, a sequence name from pg_get_serial_sequence)."""

    expression: str


def concat(*pieces: str | Dyn) -> str:
    """A PL/pgSQL text expression: static SQL pieces as literals, :class:`Dyn` pieces as
    their values, joined with ``||``. For ``EXECUTE <concat(…)>``."""
    return " || ".join(
        f"({p.expression})::text" if isinstance(p, Dyn) else literal(p) for p in pieces if p != ""
    )
