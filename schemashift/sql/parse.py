"""One statement → actions: our fast recogniser first, sqlglot for the rest, never a crash."""

from __future__ import annotations

from schemashift.sql.actions import Action, raw
from schemashift.sql.recognize import recognize

# Identical statements (common in generated migrations) are parsed once per run.
_CACHE: dict[tuple[str, str], list[Action]] = {}
_CACHE_LIMIT = 50_000


def parse_statement(sql: str, dialect: str) -> list[Action]:
    key = (dialect, sql)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    try:
        actions = recognize(sql, dialect)
        if actions is None:
            from schemashift.sql.sqlglot_adapter import actions_from_sqlglot

            actions = actions_from_sqlglot(sql, dialect)
    except RecursionError:
        actions = [raw("statement too deeply nested to analyse")]
    except Exception as exc:
        actions = [raw(f"internal error while parsing ({type(exc).__name__}: {exc})")]
    if not actions:
        actions = [raw("no statement recognised")]
    if len(_CACHE) < _CACHE_LIMIT:
        _CACHE[key] = actions
    return actions
