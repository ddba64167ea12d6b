"""``schemashift serve`` as a real process on 127.0.0.1, with a throttled backfill running
on PostgreSQL and the status page loaded in headless Chromium: the page shows the
migration, its phase and a backfill figure that advances, updated by its own polling; the
contract gate flips from 409 to 200 when the last old instance is retired over HTTP, and
changes without the token are refused (401). The screenshot is kept under the test's
tmp_path (its path is printed)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import MIGRATION, ROOT, TOKEN, Migration, make_table

from schemashift.model import Phase

pytestmark = pytest.mark.postgres

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and os.path.exists(p)), None)  # fmt: skip
ROWS = 72_000
RATE = 6_000  # rows per second: the backfill takes about 12 s


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if CHROMIUM is None:
        reason = "headless Chromium is not installed (apt-get install chromium)"
        required = os.environ.get("SCHEMASHIFT_REQUIRE_DB", "").strip().lower()
        if required in {"1", "true", "yes", "on"}:
            pytest.fail(f"{reason}; SCHEMASHIFT_REQUIRE_DB=1 turns this skip into a failure",
                        pytrace=False)  # fmt: skip
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_without_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("SCHEMASHIFT_DEBUG", "SCHEMASHIFT_DATABASE_URL", "SCHEMASHIFT_SERVE_TOKEN")}  # fmt: skip


@pytest.fixture
def server(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``schemashift serve`` on a free port: (base URL, its log file)."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**env_without_url(), "SCHEMASHIFT_SERVE_TOKEN": TOKEN}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "schemashift", "serve", "--database-url", postgres_url,
             "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"serve did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield base, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def chromium(tmp_path: Path, url: str, *args: str, budget_ms: int = 2500) -> str:
    """Chromium's output; ``budget_ms`` of virtual time for the page's polling (fetches
    pause it: 30 s of it is about 30 polls in 2-3 s of real time)."""
    profile = tmp_path / f"chromium-{time.monotonic_ns()}"
    assert CHROMIUM is not None
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
         "--window-size=1200,1000", *args, url],
        capture_output=True, text=True, check=False, timeout=90)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def page_facts(dom: str) -> dict[str, Any]:
    section = re.search(r'<section class="migration" data-migration="([^"]+)" '
                        r'data-phase="([^"]+)" data-status="([^"]+)"', dom)  # fmt: skip
    rows = re.search(r'data-rows-done="(\d+)"', dom)
    polls = re.search(r'<body data-polls="(\d+)"', dom)
    assert section and rows and polls, dom[:3000]
    current = re.search(r'class="step current" data-phase-step="(\w+)"', dom)
    rate = re.search(r'class="rate">([\d,]+) rows/s<', dom)
    eta = re.search(r'class="eta">ETA ([^<]+)<', dom)
    return {"migration": section.group(1), "phase": section.group(2),
            "status": section.group(3), "rows": int(rows.group(1)),
            "polls": int(polls.group(1)), "next": current.group(1) if current else None,
            "rate": int(rate.group(1).replace(",", "")) if rate else None,
            "eta": eta.group(1) if eta else None}  # fmt: skip


def test_status_page_gate_and_token_on_a_live_server(
    server: tuple[str, Path], postgres_url: str, pg_conn: Any, tmp_path: Path
) -> None:
    base, log = server
    make_table(pg_conn, ROWS)
    path = tmp_path / f"{MIGRATION}.sql"
    path.write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    migration = Migration(postgres_url, path)
    migration.run(Phase.EXPAND, for_app="api", for_version="2.0.0")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for instance, version in (("blue-1", "1.9.0"), ("green-1", "2.0.0")):
        answer = httpx.post(f"{base}/api/v1/deployments", headers=auth, json={
            "app": "api", "version": version, "instance": instance})  # fmt: skip
        assert answer.status_code == 200, answer.text

    backfill = subprocess.Popen(
        [sys.executable, "-m", "schemashift", "backfill", str(path), "--database-url",
         postgres_url, "--rows-per-second", str(RATE), "--batch-size", "500"],
        cwd=ROOT, env=env_without_url(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:  # wait for the first checkpoint
            doc = httpx.get(f"{base}/api/v1/status").json()
            steps = doc["migrations"][0]["backfill"]
            if steps and steps[0]["rows_done"] > 0:
                break
            assert backfill.poll() is None and time.monotonic() < deadline, doc
            time.sleep(0.1)
        first = page_facts(chromium(tmp_path, f"{base}/", "--dump-dom"))
        shot = tmp_path / "status-page.png"
        chromium(tmp_path, f"{base}/", f"--screenshot={shot}", budget_ms=30_000)
        # The rate needs two checkpoints at least 0.9 s apart on the server's clock, and
        # virtual time runs as fast as the polls answer: on an idle machine 30 polls take
        # well under a second of real time. Poll longer, and look again if it was not enough.
        for budget in (120_000, 240_000, 480_000):
            second = page_facts(chromium(tmp_path, f"{base}/", "--dump-dom", budget_ms=budget))
            if second["rate"] is not None or backfill.poll() is not None:
                break
        out, _ = backfill.communicate(timeout=120)
    finally:
        if backfill.poll() is None:
            backfill.kill()
            backfill.wait()
    assert backfill.returncode == 0, out
    print(f"status page screenshot: {shot}")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for facts in (first, second):
        # Rendered by the page's script from the API (the HTML itself holds no data), and
        # re-rendered by its own polling: more than one poll answered without a reload.
        assert facts["migration"] == MIGRATION and facts["phase"] == "expand"
        assert facts["status"] == "running" and facts["next"] == "backfill"
        assert facts["polls"] >= 2, facts
        assert 0 < facts["rows"] <= ROWS
    assert second["rows"] > first["rows"], (first, second)
    # About 30 polls over 2-3 s: the rate of the throttled backfill, and an ETA from it.
    assert second["polls"] >= 10 and second["rate"] is not None, second
    assert RATE / 3 < second["rate"] < RATE * 3, second
    assert second["eta"] is not None and re.fullmatch(r"(\d+m )?\d+s", second["eta"]), second

    migration.run(Phase.VERIFY)
    gate = f"{base}/api/v1/gate/contract/{MIGRATION}"
    blocked = httpx.get(gate)
    assert blocked.status_code == 409, blocked.text
    assert [b["instance"] for b in blocked.json()["blockers"]] == ["blue-1"]
    retire = f"{base}/api/v1/deployments/api/blue-1"
    assert httpx.delete(retire).status_code == 401
    assert httpx.delete(retire, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(gate).status_code == 409  # the refused requests changed nothing
    retired = httpx.delete(retire, headers=auth)
    assert retired.status_code == 200 and retired.json()["retired"] == 1
    allowed = httpx.get(gate)
    assert allowed.status_code == 200 and allowed.json()["allowed"] is True
    text = log.read_text()
    assert "Traceback" not in text and f"GET /api/v1/gate/contract/{MIGRATION}" in text
