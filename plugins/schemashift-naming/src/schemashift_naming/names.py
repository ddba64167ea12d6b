"""The one name part a convention is about: the last part of a qualified name, unquoted."""

from __future__ import annotations

import re

from schemashift.sqltext.names import BadName, split_name

SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def last_part(name: str, dialect: str) -> str:
    """``app."UserAccounts"`` -> ``UserAccounts`` (bare parts come folded as the server
    folds them); a name that does not split is kept as written."""
    try:
        return split_name(name, dialect)[-1]
    except BadName:
        return name
