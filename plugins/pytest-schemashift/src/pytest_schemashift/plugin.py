"""The pytest11 entry point: options, fixtures, the pair parametrisation and the
collection of the built-in tests.

Installed, the plugin only adds options and fixtures. Its tests run where you ask: with
``--schemashift`` (or ini ``schemashift = true``) at ``schemashift_tests_path``, the way
pytest-alembic's ``--test-alembic`` binds its tests to tests/conftest.py; or imported into
a test module (``from pytest_schemashift.tests import *``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from pytest_schemashift.settings import Settings, SettingsError, add_options, enabled, read_settings

# pytest imports this module at every start, wherever the plugin is installed: what needs
# SQLAlchemy or Alembic is imported when a test asks for it.
if TYPE_CHECKING:
    from pytest_schemashift.apps import PairApps
    from pytest_schemashift.history import Pair

_SETTINGS = pytest.StashKey["Settings | SettingsError"]()
_BOUND = pytest.StashKey[bool]()  # the built-in tests are collected once per session
PAIR_FIXTURE = "schemashift_pair"


@dataclass(frozen=True)
class Unrunnable:
    """A pair-test parameter standing for a reason there is no pair to run."""

    reason: str
    skip: bool  # True: nothing to test (skip); False: something is wrong (fail)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "schemashift: pytest-schemashift's built-in tests")
    if enabled(config) and not _tests_path(config).is_file():
        # Asked for, the tests would otherwise silently not be collected anywhere.
        raise pytest.UsageError(
            f"pytest-schemashift: {_tests_path(config)} does not exist: the built-in tests are "
            "collected there (create it, with your schemashift_apps fixture, or set "
            "schemashift_tests_path)"
        )


def _tests_path(config: pytest.Config) -> Path:
    return config.rootpath / str(config.getini("schemashift_tests_path"))


def settings_of(config: pytest.Config) -> Settings:
    """The settings, read once per session; a problem fails the tests that need them."""
    found = config.stash.get(_SETTINGS, None)
    if found is None:
        try:
            found = read_settings(config)
        except SettingsError as exc:
            found = exc
        config.stash[_SETTINGS] = found
    if isinstance(found, SettingsError):
        pytest.fail(f"pytest-schemashift: {found}", pytrace=False)
    return found


def _pair_params(config: pytest.Config) -> tuple[list[Pair | Unrunnable], list[str]]:
    from pytest_schemashift.history import HistoryProblem, find_pairs

    try:
        settings = read_settings(config)
        pairs = find_pairs(settings.alembic_ini, settings.since)
    except (SettingsError, HistoryProblem) as exc:
        return [Unrunnable(str(exc), skip=False)], ["history"]
    if not pairs:
        after = f" after {settings.since}" if settings.since else ""
        return [
            Unrunnable(f"no expand/contract pairs in {settings.alembic_ini}{after}", skip=True)
        ], ["no-pairs"]
    ids: list[str] = []
    for pair in pairs:  # the message names the pair; a repeated one gets the revision id
        ids.append(pair.name if pair.name not in ids else f"{pair.name}-{pair.contract}")
    return list(pairs), ids


_PAIRS = pytest.StashKey["tuple[list[Pair | Unrunnable], list[str]]"]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One pair test per expand/contract pair, named after the revision message (the
    history is read once per session)."""
    if PAIR_FIXTURE in metafunc.fixturenames:
        if _PAIRS not in metafunc.config.stash:
            metafunc.config.stash[_PAIRS] = _pair_params(metafunc.config)
        params, ids = metafunc.config.stash[_PAIRS]
        metafunc.parametrize(PAIR_FIXTURE, params, ids=ids)


class BuiltinTests(pytest.Module):
    """The tests of ``pytest_schemashift.tests``, collected under the configured file (so
    the fixtures of that conftest reach them)."""

    def _getobj(self) -> ModuleType:
        import pytest_schemashift.tests

        return pytest_schemashift.tests


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if not enabled(config) or config.stash.get(_BOUND, False):
        return None
    if file_path != _tests_path(config):
        return None
    config.stash[_BOUND] = True
    # A node id of its own: the file may also be collected as itself, or by pytest-alembic.
    nodeid = f"{file_path.relative_to(config.rootpath).as_posix()}::schemashift"
    return BuiltinTests.from_parent(parent, path=file_path, nodeid=nodeid)


@pytest.fixture(scope="session")
def schemashift_settings(request: pytest.FixtureRequest) -> Settings:
    """The Alembic config, lint level, ``since`` and server the built-in tests use."""
    return settings_of(request.config)


@pytest.fixture
def schemashift_apps() -> dict[str, PairApps]:
    """Override: ``{pair: PairApps(old_app=..., new_app=..., seed=...)}``, a pair named by
    its revision message (without " (expand)"), its expand or its contract revision id."""
    return {}


def _engine_url(request: pytest.FixtureRequest) -> str | None:
    """The URL of an ``alembic_engine`` fixture (pytest-alembic's, or one of yours)."""
    from pytest_schemashift.databases import render, with_driver

    try:
        engine = request.getfixturevalue("alembic_engine")
    except pytest.FixtureLookupError:
        return None
    url = with_driver(engine.url)
    if url.get_backend_name() == "sqlite":
        pytest.fail("pytest-schemashift: alembic_engine is a SQLite database; the pair test "
                    "needs PostgreSQL or MySQL/MariaDB: override alembic_engine or set "
                    "schemashift_server_url", pytrace=False)  # fmt: skip
    return render(url)


@pytest.fixture
def schemashift_url(
    request: pytest.FixtureRequest, schemashift_settings: Settings
) -> Iterator[str]:
    """The empty database one pair test runs on (override to provide your own). Default: a
    throw-away database on ``schemashift_server_url``, else pytest-alembic's
    ``alembic_engine``."""
    from pytest_schemashift.databases import DatabaseProblem, throwaway_database

    if PAIR_FIXTURE in request.fixturenames:  # nothing to run: say why before any database
        pair = request.getfixturevalue(PAIR_FIXTURE)
        if isinstance(pair, Unrunnable):
            if pair.skip:
                pytest.skip(pair.reason)
            pytest.fail(pair.reason, pytrace=False)
    server = schemashift_settings.server_url
    if server is None:
        url = _engine_url(request)
        if url is None:
            pytest.fail("pytest-schemashift: no database for the pair test: set "
                        "--schemashift-server-url, $SCHEMASHIFT_TEST_SERVER_URL or ini "
                        "schemashift_server_url, or override the schemashift_url fixture",
                        pytrace=False)  # fmt: skip
        yield url
        return
    try:
        with throwaway_database(server) as url:
            yield url
    except DatabaseProblem as exc:
        pytest.fail(f"pytest-schemashift: {exc}", pytrace=False)
