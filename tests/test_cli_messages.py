"""One clear line on stderr, and nothing else, where a new user tried (issue 12 tryout):
sqlglot's own warnings while reading a history, and a --since-git ref git does not know."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "shop"


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schemashift", "lint", *args], cwd=SHOP,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_reading_the_shop_history_prints_no_sqlglot_warning() -> None:
    out = _lint("--alembic-config", "alembic.ini", "--format", "json")
    assert out.returncode in (0, 1), out.stderr
    assert "Falling back to parsing" not in out.stderr
    assert all(line.startswith("schemashift:") for line in out.stderr.splitlines()), out.stderr


def test_an_unknown_since_git_ref_is_one_line() -> None:
    out = _lint("--alembic-config", "alembic.ini", "--since-git", "no-such-ref-here")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "schemashift: error: --since-git no-such-ref-here: not a commit git knows here "
        "(git rev-parse exited 1)"
    ]


def test_explain_takes_a_rule_name_too() -> None:
    out = subprocess.run([sys.executable, "-m", "schemashift", "explain", "drop-column"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0 and out.stdout.startswith("# SS103 drop-column"), out.stderr
