"""The HTTP API of ``schemashift serve`` through Starlette's TestClient, on real PostgreSQL
state: the gates give the command line's answers for the same state, the registry, the
status document, metrics, tokens, bad input, body limits, an unreachable database, and
no password in any answer or log line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from serve_support import MIGRATION, ROOT, TOKEN, Migration, cli

from schemashift import deploy
from schemashift.execute.status import status_document
from schemashift.model import Phase

pytestmark = pytest.mark.postgres

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FLAGGER_BODY = {"name": "api", "namespace": "shop", "phase": "Progressing",
                "checksum": "6fd7c9b6", "metadata": {"migration": MIGRATION, "team": "core"}}  # fmt: skip


def gate_events(pg_conn: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(r[0], r[1]) for r in pg_conn.execute(
        "SELECT action, detail FROM schemashift.events WHERE phase = 'gate' ORDER BY id")]  # fmt: skip


def test_gates_answer_as_the_cli_does(migration: Migration, client_for: Any, pg_conn: Any) -> None:
    url, target = migration.url, str(migration.path)
    client = client_for(url)
    migration.run(Phase.EXPAND, for_app="api", for_version="2.0.0")
    with deploy.open_state(url) as state:
        deploy.record(state, "api", "1.9.0", "blue-1", slot="blue")
        deploy.record(state, "api", "2.0.0", "green-1", slot="green")

    def both() -> tuple[bool, dict[str, Any]]:
        from_cli = cli("gate", "contract", target, url=url)
        assert from_cli.returncode in (0, 3), from_cli.stderr
        answer = client.get(f"/api/v1/gate/contract/{MIGRATION}")
        assert answer.status_code == (200 if answer.json()["allowed"] else 409)
        assert (from_cli.returncode == 0) == answer.json()["allowed"]
        return from_cli.returncode == 0, answer.json()

    # Expanded only: out of order, the same sentence as the CLI's.
    allowed, body = both()
    assert not allowed and "run backfill first" in body["reason"] and body["blockers"] == []
    ready = client.get(f"/api/v1/gate/ready/{MIGRATION}")
    assert ready.status_code == 409 and ready.json()["decision"] == "blocked"
    migration.run(Phase.BACKFILL)
    allowed, body = both()
    assert not allowed and "run verify first" in body["reason"]
    migration.run(Phase.VERIFY)
    assert client.get(f"/api/v1/gate/ready/{MIGRATION}").status_code == 200
    # Verified, but blue-1 (1.9.0) is live and older than 2.0.0.
    allowed, body = both()
    assert not allowed and [b["instance"] for b in body["blockers"]] == ["blue-1"]
    assert body["decision"] == "blocked" and body["phase"] == "verify"
    verdict = client.get(f"/api/v1/gate/contract/{MIGRATION}?as=verdict")
    assert verdict.status_code == 200 and verdict.json()["decision"] == "blocked"
    # Flagger's webhook body: who asked lands in the audit event, like the CLI's event.
    flagger = client.post(f"/api/v1/gate/contract/{MIGRATION}", json=FLAGGER_BODY,
                          headers={"X-Schemashift-Requested-By": "pipeline#42"})  # fmt: skip
    assert flagger.status_code == 409
    action, detail = gate_events(pg_conn)[-1]
    assert action == "gate_refused" and detail["check_only"]
    assert detail["blockers"][0]["instance"] == "blue-1"
    asked = detail["requested_by"]
    assert asked["name"] == "api" and asked["namespace"] == "shop"
    assert asked["phase"] == "Progressing" and asked["metadata"]["team"] == "core"
    assert asked["requested_by"] == "pipeline#42" and asked["via"] == "schemashift serve"
    # The CLI's own event has the same shape, without requested_by.
    cli_events = [d for a, d in gate_events(pg_conn) if "requested_by" not in d]
    assert cli_events and set(cli_events[-1]) == set(detail) - {"requested_by"}

    # Retired over HTTP: both say it may run now.
    assert client.delete("/api/v1/deployments/api/blue-1", headers=AUTH).json()["retired"] == 1
    allowed, body = both()
    assert allowed and body == {**body, "allowed": True, "decision": "allowed", "blockers": []}
    assert gate_events(pg_conn)[-1][0] == "gate_allowed"
    migration.run(Phase.CONTRACT)
    allowed, body = both()
    assert allowed and body["status"] == "done"
    # A file name works as the migration too (as runtime.ready takes it).
    assert client.get(f"/api/v1/gate/ready/{MIGRATION}.sql").json()["allowed"]


def test_unknown_and_bad_requests(migration: Migration, client_for: Any) -> None:
    client = client_for(migration.url)
    migration.run(Phase.EXPAND, for_app="api", for_version="2.0.0")
    for kind in ("contract", "ready"):
        missing = client.get(f"/api/v1/gate/{kind}/no_such_migration")
        assert missing.status_code == 404 and "no_such_migration" in missing.json()["error"]
        verdict = client.get(f"/api/v1/gate/{kind}/no_such_migration?as=verdict")
        assert verdict.status_code == 200 and verdict.json()["decision"] == "unknown"
        assert client.get(f"/api/v1/gate/{kind}/{MIGRATION}?as=yaml").status_code == 400
        bad_json = client.post(f"/api/v1/gate/{kind}/{MIGRATION}", content=b"{not json",
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert bad_json.status_code == 400 and "not JSON" in bad_json.json()["error"]
        assert client.post(f"/api/v1/gate/{kind}/{MIGRATION}", json=[1, 2]).status_code == 400
        wrong = client.put(f"/api/v1/gate/{kind}/{MIGRATION}")
        assert wrong.status_code == 405 and wrong.json() == {"error": "Method Not Allowed"}
        assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert client.get("/api/v1/nothing-here").json() == {"error": "Not Found"}
    assert client.get("/api/v1/events?limit=0").status_code == 400
    # Bodies are bounded: 413 before the database is asked.
    big = {"app": "api", "version": "1.0", "padding": "x" * 70_000}
    assert client.post("/api/v1/deployments", json=big, headers=AUTH).status_code == 413
    huge = client.post(f"/api/v1/gate/contract/{MIGRATION}", json=big)
    assert huge.status_code == 413 and "65536" in huge.json()["error"]

    def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b" " * 4096

    streamed = client.post("/api/v1/deployments", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413


def test_deployments_over_http(migration: Migration, client_for: Any) -> None:
    client = client_for(migration.url)
    record = {"app": "api", "version": "2.4.0", "instance": "web-1", "slot": "green",
              "traffic": 25}  # fmt: skip
    no_token = client.post("/api/v1/deployments", json=record)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    wrong = client.post("/api/v1/deployments", json=record,
                        headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert wrong.status_code == 401
    ok = client.post("/api/v1/deployments", json=record, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["instance"] == "web-1"
    # A heartbeat of the same instance, and one more instance of an older version.
    assert client.post("/api/v1/deployments", json=record, headers=AUTH).status_code == 200
    assert client.post("/api/v1/deployments", headers=AUTH, json={
        "app": "api", "version": "2.3.1", "instance": "web-0", "environment": "staging",
    }).status_code == 200  # fmt: skip
    listed = client.get("/api/v1/deployments").json()["deployments"]
    assert {(r["instance"], r["version"], r["environment"]) for r in listed} == {
        ("web-1", "2.4.0", "production"), ("web-0", "2.3.1", "staging")}  # fmt: skip
    web1 = next(r for r in listed if r["instance"] == "web-1")
    assert web1["slot"] == "green" and web1["traffic"] == 25
    for bad, words in [
        ({"app": "api"}, "version"), ({"app": "", "version": "1"}, "app"),
        ({"app": "api", "version": "not a version"}, "not a version"),
        ({"app": "api", "version": "1", "slot": "purple"}, "slot"),
        ({"app": "api", "version": "1", "traffic": 150}, "traffic"),
        ({"app": "api", "version": "1", "traffic": "lots"}, "traffic"),
        ({"app": "api", "version": "1", "colour": "blue"}, "colour"),
    ]:  # fmt: skip
        answer = client.post("/api/v1/deployments", json=bad, headers=AUTH)
        assert answer.status_code == 400 and words in answer.json()["error"], (bad, answer.text)
    assert client.post("/api/v1/deployments", content=b"", headers=AUTH).status_code == 400
    # Retire: one instance, or every instance of a version; idempotent.
    assert client.delete("/api/v1/deployments/api/web-1").status_code == 401
    assert client.delete("/api/v1/deployments/api/web-1", headers=AUTH).json()["retired"] == 1
    assert client.delete("/api/v1/deployments/api/web-1", headers=AUTH).json()["retired"] == 0
    assert client.delete("/api/v1/deployments/api", headers=AUTH).status_code == 400
    gone = client.delete("/api/v1/deployments/api?version=2.3.1", headers=AUTH)
    assert gone.json()["retired"] == 1
    assert client.get("/api/v1/deployments").json()["deployments"] == []
    # A server without a token accepts no change at all.
    open_server = client_for(migration.url, token=None)
    refused = open_server.post("/api/v1/deployments", json=record, headers=AUTH)
    assert refused.status_code == 403 and "SCHEMASHIFT_SERVE_TOKEN" in refused.json()["error"]


def test_status_metrics_and_protected_reads(migration: Migration, client_for: Any) -> None:
    url = migration.url
    migration.run(Phase.EXPAND, for_app="api", for_version="2.0.0")
    migration.run(Phase.BACKFILL)
    with deploy.open_state(url) as state:
        deploy.record(state, "api", "1.9.0", "blue-1")
        deploy.record(state, "api", "1.9.0", "blue-2")
        deploy.record(state, "api", "2.0.0", "green-1")
    client = client_for(url)
    status = client.get("/api/v1/status").json()
    with deploy.open_state(url) as state:
        assert status == status_document(state, 120)
    assert client.get(f"/api/v1/gate/contract/{MIGRATION}").status_code == 409
    assert client.get(f"/api/v1/gate/ready/{MIGRATION}?as=verdict").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for series in (
        "schemashift_state_up 1.0",
        f'schemashift_migration_phase{{migration="{MIGRATION}",phase="backfill",status="running"}} 1.0',
        f'schemashift_migration_phase{{migration="{MIGRATION}",phase="contract",status="running"}} 0.0',
        f'schemashift_backfill_rows_done{{migration="{MIGRATION}",step="3"}} 200.0',
        f'schemashift_backfill_rows_total_estimate{{migration="{MIGRATION}",step="3"}}',
        'schemashift_live_instances{app="api",version="1.9.0"} 2.0',
        'schemashift_live_instances{app="api",version="2.0.0"} 1.0',
        'schemashift_gate_decisions_total{decision="blocked",gate="contract"} 1.0',
        'schemashift_gate_decisions_total{decision="blocked",gate="ready"} 1.0',
    ):  # fmt: skip
        assert series in text, series
    events = client.get("/api/v1/events?limit=3").json()["events"]
    assert len(events) == 3 and (events[0]["phase"], events[0]["action"]) == (
        "backfill",
        "phase_done",
    )
    assert client.get("/").text.startswith("<!doctype html>")
    # --protect-reads: every read needs the token, but the page shell and liveness do not.
    guarded = client_for(url, protect_reads=True)
    for path in ("/api/v1/status", "/metrics", f"/api/v1/gate/contract/{MIGRATION}",
                 f"/api/v1/gate/ready/{MIGRATION}?as=verdict", "/api/v1/events",
                 "/api/v1/deployments", "/api/v1/info"):  # fmt: skip
        assert guarded.get(path).status_code == 401, path
        assert guarded.get(path, headers=AUTH).status_code in (200, 409), path
    assert guarded.get("/").status_code == 200 and guarded.get("/healthz").json() == {"ok": True}


SECRET = "S3cr3t-pw_9f4e"


def test_unreachable_database_and_no_password_anywhere(
    migration: Migration, client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="schemashift.serve")
    migration.run(Phase.EXPAND, for_app="api", for_version="2.0.0")
    # The test server trusts local logins: the password is in the URL but not checked.
    with_password = migration.url.replace("://postgres@", f"://postgres:{SECRET}@", 1)
    assert SECRET in with_password
    down = with_password.replace(":5432/", ":1/", 1)  # nothing listens on port 1
    assert down != with_password
    answers = []
    for url in (with_password, down):
        client = client_for(url)
        for method, path, kwargs in [
            ("GET", "/api/v1/status", {}), ("GET", "/metrics", {}), ("GET", "/api/v1/info", {}),
            ("GET", "/api/v1/events", {}), ("GET", "/api/v1/deployments", {}),
            ("GET", f"/api/v1/gate/contract/{MIGRATION}", {}),
            ("POST", f"/api/v1/gate/contract/{MIGRATION}?as=verdict", {"json": FLAGGER_BODY}),
            ("GET", f"/api/v1/gate/ready/{MIGRATION}", {}),
            ("GET", f"/api/v1/gate/ready/{MIGRATION}?as=verdict", {}),
            ("GET", "/api/v1/gate/contract/unknown", {}),
            ("POST", "/api/v1/deployments", {"json": {"app": "api", "version": "x y"}}),
            ("POST", "/api/v1/deployments", {"json": {"app": "api", "version": "1.0"}}),
            ("DELETE", "/api/v1/deployments/api/web-1", {}),
        ]:  # fmt: skip
            answer = client.request(method, path, headers=AUTH, **kwargs)
            answers.append((url is down, path, answer))
    for is_down, path, answer in answers:
        assert SECRET not in answer.text, (path, answer.text)
        assert SECRET not in json.dumps(dict(answer.headers))
        if not is_down or path == "/api/v1/info" or "=verdict" in path or "version" in path:
            continue
        if path.endswith("/deployments") and answer.request.method == "POST":
            continue  # the body is checked (400) before the database is asked
        if path == "/metrics":
            assert "schemashift_state_up 0.0" in answer.text
            continue
        assert answer.status_code == 503, (path, answer.text)
        assert "cannot connect" in answer.json()["error"] and "***" in answer.json()["error"]
    down_verdicts = [a.json() for d, p, a in answers if d and "=verdict" in p]
    assert [v["decision"] for v in down_verdicts] == ["unknown", "unknown"]
    assert all(a.status_code == 200 for d, p, a in answers if d and "=verdict" in p)
    up_info = next(a for d, p, a in answers if not d and p == "/api/v1/info").json()
    assert up_info["database"].startswith("127.0.0.1:5432/")
    assert caplog.records and all(SECRET not in r.getMessage() for r in caplog.records)


def test_serve_without_the_server_extra() -> None:
    """The [server] extra missing: one line naming the pip command, exit 2."""
    code = ("import sys; sys.modules['starlette'] = None; from schemashift.cli import main; "
            "sys.argv = ['schemashift', 'serve']; main()")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SCHEMASHIFT_DEBUG"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=False, timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "schemashift: error: schemashift serve needs starlette: pip install 'schemashift[server]'"
    ]


def test_serve_command_errors_are_one_masked_line() -> None:
    bad = cli("serve", "--database-url", f"oracle://app:{SECRET}@db/prod")
    assert bad.returncode == 2 and SECRET not in bad.stderr
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith("schemashift: error: unsupported database URL scheme 'oracle'")
    url = f"postgresql://app:{SECRET}@127.0.0.1:1/prod"
    unguarded = cli("serve", "--database-url", url, "--protect-reads")
    assert unguarded.returncode == 2 and "--protect-reads needs a token" in unguarded.stderr
    missing = cli("serve", "--database-url", url, "--token-file", "/nonexistent/token")
    assert missing.returncode == 2 and "No such file" in missing.stderr
    assert SECRET not in unguarded.stderr + missing.stderr
