"""Fixtures of pytest-schemashift's own tests (the helpers are in shopcopy.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shopcopy import copy_project, server_url, shop_template


def pytest_configure(config: pytest.Config) -> None:
    # `pytest_plugins = ["pytester"]` is refused in a conftest below the rootdir (these
    # tests are also collected from the repository root); registering it here works both ways.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(params=["postgres", "mysql"])
def server(request: pytest.FixtureRequest) -> str:
    """A server URL the plugin may create throw-away databases on (each kind in turn)."""
    return server_url(str(request.param))


@pytest.fixture
def pg_server() -> str:
    return server_url("postgres")


@pytest.fixture
def shop(tmp_path_factory: pytest.TempPathFactory, server: str) -> Callable[[Path], None]:
    """``shop(path)`` copies the prepared shop project for ``server``'s kind into path."""
    template = shop_template(server, tmp_path_factory)
    return lambda path: copy_project(template, path)


@pytest.fixture(autouse=True)
def _no_outer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs see only the settings a test gives them."""
    for name in ("SCHEMASHIFT_TEST_SERVER_URL", "SCHEMASHIFT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
