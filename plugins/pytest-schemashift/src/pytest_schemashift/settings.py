"""Where the plugin's settings come from: command-line options, pytest ini options, one
environment variable and the project's own ``[tool.schemashift]``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from schemashift.config import Config, ConfigError, load_config

SERVER_ENV = "SCHEMASHIFT_TEST_SERVER_URL"
FAIL_ON = ("error", "warning", "breaking")  # as `schemashift lint --fail-on`


class SettingsError(Exception):
    """A setting is missing or wrong (one line)."""


@dataclass(frozen=True)
class Settings:
    alembic_ini: Path
    config: Config  # [tool.schemashift] of the project the Alembic config belongs to
    fail_on: str
    since: str | None
    server_url: str | None  # a server to create throw-away databases on


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("schemashift", "zero-downtime migration tests (pytest-schemashift)")
    group.addoption("--schemashift", action="store_true", default=False,
                    dest="schemashift_enabled",
                    help="Collect pytest-schemashift's built-in tests (at schemashift_tests_path).")  # fmt: skip
    group.addoption("--schemashift-server-url", dest="schemashift_server_url", default=None,
                    metavar="URL",
                    help=f"PostgreSQL or MySQL/MariaDB server to create a throw-away database on "
                         f"per pair test (default: ${SERVER_ENV}, else the ini option).")  # fmt: skip
    parser.addini("schemashift", "Collect the built-in tests, as --schemashift does.",
                  type="bool", default=False)  # fmt: skip
    parser.addini("schemashift_tests_path", "The file the built-in tests are collected at "
                  "(relative to the rootdir; where your fixtures are).",
                  default="tests/conftest.py")  # fmt: skip
    parser.addini("schemashift_alembic_config", "alembic.ini (or pyproject.toml with "
                  "[tool.alembic]), relative to the rootdir (default: [tool.schemashift] "
                  "alembic_config, else alembic.ini in the rootdir).")  # fmt: skip
    parser.addini("schemashift_fail_on", "Lint level that fails: error, warning or breaking "
                  "(default: [tool.schemashift] fail-on, else error).")  # fmt: skip
    parser.addini("schemashift_since", "Only lint and run the revisions after this one "
                  "(the history already deployed before you adopted schemashift).")  # fmt: skip
    parser.addini("schemashift_server_url", f"As --schemashift-server-url (${SERVER_ENV} "
                  "wins over it).")  # fmt: skip


def enabled(config: pytest.Config) -> bool:
    return bool(config.option.schemashift_enabled or config.getini("schemashift"))


def _project_config(alembic_ini: Path) -> Config:
    try:
        return load_config(start=alembic_ini.parent)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


def read_settings(config: pytest.Config) -> Settings:
    root = config.rootpath
    option = str(config.getini("schemashift_alembic_config") or "")
    if option:
        ini = root / option
    else:
        project = _project_config(root / "alembic.ini")
        if project.alembic_config and project.source:
            ini = Path(project.source).parent / project.alembic_config
        else:
            ini = root / "alembic.ini"
    if not ini.is_file():
        raise SettingsError(f"no Alembic config at {ini}: set schemashift_alembic_config "
                            "(ini) or [tool.schemashift] alembic_config")  # fmt: skip
    project = _project_config(ini)
    fail_on = str(config.getini("schemashift_fail_on") or project.fail_on or "error")
    if fail_on not in FAIL_ON:
        raise SettingsError(f"schemashift_fail_on = {fail_on!r}: choose error, warning or breaking")
    server = (config.option.schemashift_server_url or os.environ.get(SERVER_ENV)
              or str(config.getini("schemashift_server_url") or "") or None)  # fmt: skip
    since = str(config.getini("schemashift_since") or "") or None
    return Settings(ini.resolve(), project.with_overrides(alembic_config=str(ini.resolve())),
                    fail_on, since, server)  # fmt: skip
