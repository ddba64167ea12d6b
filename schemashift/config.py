"""``[tool.schemashift]`` in pyproject.toml: dialect, server version, rule selection.

```toml
[tool.schemashift]
dialect = "postgres"            # postgres | mysql | sqlite
server-version = "16"
disable = ["SS601"]             # rules never reported
enable = []                     # when set, only these rules are reported
unknown = "breaking"            # or "warn": how SQL we cannot parse is treated
state-schema = "schemashift"
heartbeat-ttl = 120             # seconds before a silent app instance stops blocking contract
for-app = "api@2.4.0"           # default of expand --for-app

[tool.schemashift.severity]     # per-rule overrides
SS402 = "error"

[tool.schemashift.per-file-ignores]
"migrations/legacy/*.sql" = ["SS101", "SS103"]
```
Keys may be written with dashes or underscores.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from schemashift.model import Severity

RULE_ID = re.compile(r"^[A-Z]{2,4}\d{3}$")  # SS101, or a rule pack's NM101
_KNOWN_KEYS = {
    "dialect", "server_version", "disable", "enable", "unknown", "state_schema", "severity",
    "per_file_ignores", "fail_on", "lock_timeout", "alembic_config", "heartbeat_ttl",
    "for_app", "schema", "small_table_rows",
}  # fmt: skip


class ConfigError(ValueError):
    """An invalid [tool.schemashift] table: reported as one line, exit 2."""


@dataclass(frozen=True)
class Config:
    dialect: str = "postgres"
    server_version: str | None = None
    disable: frozenset[str] = frozenset()
    enable: frozenset[str] | None = None
    unknown: str = "breaking"
    state_schema: str = "schemashift"
    severity: Mapping[str, Severity] = field(default_factory=dict)
    per_file_ignores: Mapping[str, frozenset[str]] = field(default_factory=dict)
    fail_on: str | None = None
    alembic_config: str | None = None  # path of alembic.ini, relative to pyproject.toml
    lock_timeout_ms: int = 1000  # lock_timeout of every DDL the phase engine runs
    heartbeat_ttl: int = 120  # seconds without a heartbeat before an instance is not live
    for_app: str | None = None  # default of expand --for-app (APP@VERSION)
    schema: str | None = None  # DDL of the existing schema lint prices against (lint --schema)
    # lint --database-url: a lock/rewrite error on a table with fewer rows is a warning
    small_table_rows: int = 10_000
    source: str | None = None  # the pyproject.toml it came from

    def severity_of(self, rule_id: str, default: Severity) -> Severity:
        """A rule's severity in this project: ``[tool.schemashift.severity]``, else the
        rule's own (``default``); SS001 (unknown SQL) is a warning with unknown = "warn"."""
        override = self.severity.get(rule_id)
        if override is not None:
            return override
        if rule_id == "SS001" and self.unknown == "warn":
            return Severity.WARNING
        return default

    def rule_enabled(self, rule_id: str) -> bool:
        if rule_id in self.disable:
            return False
        return self.enable is None or rule_id in self.enable

    def ignored_in(self, file: str) -> frozenset[str]:
        out: set[str] = set()
        for pattern, rules in self.per_file_ignores.items():
            if fnmatch.fnmatch(file, pattern) or fnmatch.fnmatch(Path(file).name, pattern):
                out |= rules
        return frozenset(out)

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def find_pyproject(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None, path: Path | None = None) -> Config:
    """The config of the nearest pyproject.toml (defaults when there is none)."""
    pyproject = path or find_pyproject((start or Path.cwd()).resolve())
    if pyproject is None:
        return Config()
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read: {exc}") from None
    table = data.get("tool", {}).get("schemashift")
    if table is None:
        return Config()
    return parse_config(table, str(pyproject))


def parse_config(table: Mapping[str, Any], source: str = "pyproject.toml") -> Config:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: [tool.schemashift] must be a table")
    raw = {str(k).replace("-", "_"): v for k, v in table.items()}
    unknown_keys = sorted(set(raw) - _KNOWN_KEYS)
    if unknown_keys:
        raise ConfigError(
            f"{source}: unknown key(s) in [tool.schemashift]: {', '.join(unknown_keys)}"
        )
    where = f"{source}: [tool.schemashift]"
    out: dict[str, Any] = {"source": source}
    if "dialect" in raw:
        from schemashift.dialects.base import ALIASES

        dialect = raw["dialect"]
        if not isinstance(dialect, str) or dialect.lower() not in ALIASES:
            raise ConfigError(f"{where} dialect must be postgres, mysql or sqlite, not {dialect!r}")
        out["dialect"] = ALIASES[dialect.lower()]
    if "server_version" in raw:
        version = str(raw["server_version"])
        if not re.match(r"^\d+(\.\d+){0,2}", version):
            raise ConfigError(
                f"{where} server-version must look like 16 or 8.0.29, not {version!r}"
            )
        out["server_version"] = version
    for key in ("disable", "enable"):
        if key in raw:
            out[key] = frozenset(_rule_list(raw[key], f"{where} {key}"))
    if "unknown" in raw:
        if raw["unknown"] not in ("breaking", "warn"):
            raise ConfigError(
                f'{where} unknown must be "breaking" or "warn", not {raw["unknown"]!r}'
            )
        out["unknown"] = raw["unknown"]
    if "state_schema" in raw:
        schema = raw["state_schema"]
        if not isinstance(schema, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", schema):
            raise ConfigError(f"{where} state-schema must be a plain identifier, not {schema!r}")
        out["state_schema"] = schema
    if "alembic_config" in raw:
        value = raw["alembic_config"]
        if not isinstance(value, str) or not value:
            raise ConfigError(f'{where} alembic-config must be a path like "alembic.ini"')
        out["alembic_config"] = str(Path(source).parent / value) if source else value
    if "small_table_rows" in raw:
        value = raw["small_table_rows"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where} small-table-rows must be a number of rows, like 10000")
        out["small_table_rows"] = value
    if "schema" in raw:
        value = raw["schema"]
        if not isinstance(value, str) or not value:
            raise ConfigError(f'{where} schema must be a path like "schema.sql" (pg_dump '
                              "--schema-only, mysqldump --no-data, SQLite .schema or plain DDL)")
        out["schema"] = str(Path(source).parent / value) if source else value
    if "lock_timeout" in raw:
        value = raw["lock_timeout"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where} lock-timeout must be a number of milliseconds, like 1000")
        out["lock_timeout_ms"] = value
    if "heartbeat_ttl" in raw:
        value = raw["heartbeat_ttl"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where} heartbeat-ttl must be a number of seconds, like 120")
        out["heartbeat_ttl"] = value
    if "for_app" in raw:
        value = raw["for_app"]
        if not isinstance(value, str) or "@" not in value:
            raise ConfigError(f'{where} for-app must look like "api@2.4.0"')
        out["for_app"] = value
    if "fail_on" in raw:
        if raw["fail_on"] not in ("error", "warning", "breaking"):
            raise ConfigError(f"{where} fail-on must be error, warning or breaking")
        out["fail_on"] = raw["fail_on"]
    if "severity" in raw:
        sev = raw["severity"]
        if not isinstance(sev, Mapping):
            raise ConfigError(f'{where} severity must be a table of rule = "error|warning|info"')
        levels: dict[str, Severity] = {}
        for rule, level in sev.items():
            _rule_list([rule], f"{where} severity")
            try:
                levels[rule] = Severity(level)
            except ValueError:
                raise ConfigError(f"{where} severity.{rule} must be error, warning or info, "
                                  f"not {level!r}") from None  # fmt: skip
        out["severity"] = levels
    if "per_file_ignores" in raw:
        pfi = raw["per_file_ignores"]
        if not isinstance(pfi, Mapping):
            raise ConfigError(f"{where} per-file-ignores must be a table of glob = [rules]")
        out["per_file_ignores"] = {
            str(glob): frozenset(_rule_list(rules, f"{where} per-file-ignores"))
            for glob, rules in pfi.items()
        }
    return Config(**out)


def _rule_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f'{where} must be a list of rule ids like ["SS101"]')
    out = []
    for item in value:
        if not isinstance(item, str) or not RULE_ID.match(item.upper()):
            raise ConfigError(f"{where}: {item!r} is not a rule id (like SS101, or a rule pack's NM101)")
        out.append(item.upper())
    return out
