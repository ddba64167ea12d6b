"""pytest-schemashift's built-in tests. Collected with ``--schemashift``, or imported into
a test module of yours::

    from pytest_schemashift.tests import (
        test_expand_and_contract_heads,
        test_pair_keeps_old_and_new_app_working,
        test_revisions_lint_clean,
    )
"""

from __future__ import annotations

import pytest
from schemashift.alembic.history import HistoryError
from schemashift.execute.database import parse_url

from pytest_schemashift.apps import PairApps
from pytest_schemashift.history import HistoryProblem, Pair, check_heads
from pytest_schemashift.lint import lint_problems
from pytest_schemashift.pair_run import PairFailed, PairRun, run_pair
from pytest_schemashift.plugin import Unrunnable
from pytest_schemashift.settings import Settings


def test_revisions_lint_clean(schemashift_settings: Settings) -> None:
    """Every revision reads offline and lints clean at ``schemashift_fail_on``."""
    s = schemashift_settings
    try:
        problems = lint_problems(s.alembic_ini, s.config, s.fail_on, s.since)
    except HistoryError as exc:
        problems = [f"cannot read the history: {exc}"]
    if problems:
        shown = "\n  ".join(problems)
        pytest.fail(f"schemashift lint ({s.config.dialect}, fail on {s.fail_on}): "
                    f"{len(problems)} problem(s):\n  {shown}", pytrace=False)  # fmt: skip


def test_expand_and_contract_heads(schemashift_settings: Settings) -> None:
    """One expand head and one contract head (the branches `schemashift init` starts)."""
    try:
        check_heads(schemashift_settings.alembic_ini)
        return
    except HistoryProblem as exc:
        problem = str(exc)
    pytest.fail(f"schemashift heads: {problem}", pytrace=False)


def _apps_for(pair: Pair, apps: dict[str, PairApps]) -> PairApps:
    found = [v for k, v in apps.items() if pair.matches(k)]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        pytest.fail(f"{pair}: {what} entry in the schemashift_apps fixture: key it by "
                    f"{pair.name!r}, {pair.expand!r} or {pair.contract!r}", pytrace=False)  # fmt: skip
    return found[0]


def test_pair_keeps_old_and_new_app_working(
    schemashift_pair: Pair | Unrunnable,
    schemashift_settings: Settings,
    schemashift_apps: dict[str, PairApps],
    schemashift_url: str,
) -> None:
    """Expand, backfill, verify and contract the pair on a real database with rows, the
    old app and the new app checked in between; a rollback on the way; no row lost."""
    if isinstance(schemashift_pair, Unrunnable):
        if schemashift_pair.skip:
            pytest.skip(schemashift_pair.reason)
        pytest.fail(schemashift_pair.reason, pytrace=False)
    apps = _apps_for(schemashift_pair, schemashift_apps)
    s = schemashift_settings
    config = s.config.with_overrides(dialect=parse_url(schemashift_url).dialect)
    run = PairRun(schemashift_pair, s.alembic_ini, schemashift_url, apps, config)
    try:
        run_pair(run)
        return
    except PairFailed as exc:
        failure = str(exc)  # reported below, outside the except: no chained traceback
    log = run.log.getvalue().strip().splitlines()[-12:]
    shown = "\nrunner log (last lines):\n  " + "\n  ".join(log) if log else ""
    pytest.fail(failure + shown, pytrace=False)
