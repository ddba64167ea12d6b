"""``schemashift serve`` on MariaDB state: the contract and readiness gates, the registry
over HTTP, the status document, events and metrics read through the MySQL state tables."""

from __future__ import annotations

from typing import Any

import pytest
from serve_support import TOKEN

from schemashift.config import Config
from schemashift.execute.runner import Runner, RunOptions
from schemashift.model import Phase

pytestmark = pytest.mark.mysql

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_gates_registry_and_status_on_mariadb(mysql_url: str, mysql_conn: Any,
                                              client_for: Any) -> None:  # fmt: skip
    from tests.test_runner_mysql import rename_plan, run

    run(mysql_conn, "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(80) NOT NULL)")
    run(mysql_conn, "INSERT INTO users VALUES (1, 'a'), (2, 'b')")
    plan = rename_plan()
    config = Config(dialect="mysql")

    def runner(**options: Any) -> Runner:
        return Runner(mysql_url, config, RunOptions(quiet=True, **options))

    runner(for_app="api", for_version="2.10.0").run(plan, Phase.EXPAND)
    client = client_for(mysql_url, config=config)
    for instance, version in (("blue-1", "2.9.1"), ("green-1", "2.10.0")):
        answer = client.post("/api/v1/deployments", headers=AUTH,
                             json={"app": "api", "version": version, "instance": instance})  # fmt: skip
        assert answer.status_code == 200, answer.text
    assert client.get("/api/v1/gate/ready/m1").status_code == 409
    assert "run verify first" in client.get("/api/v1/gate/contract/m1").json()["reason"]
    run(mysql_conn, "UPDATE users SET full_name = name")
    runner().run(plan, Phase.VERIFY)
    assert client.get("/api/v1/gate/ready/m1?as=verdict").json()["decision"] == "allowed"
    blocked = client.post("/api/v1/gate/contract/m1", json={"name": "api", "namespace": "shop"})
    assert blocked.status_code == 409
    assert [b["instance"] for b in blocked.json()["blockers"]] == ["blue-1"]
    assert [b.instance for b in runner().gate_contract(plan)] == ["blue-1"]  # as the CLI
    events = client.get("/api/v1/events?limit=2").json()["events"]
    assert [e["action"] for e in events] == ["gate_refused", "gate_refused"]
    assert events[1]["detail"]["requested_by"]["namespace"] == "shop"
    assert "requested_by" not in events[0]["detail"] and events[0]["forced"] is False
    assert client.delete("/api/v1/deployments/api/blue-1", headers=AUTH).json()["retired"] == 1
    assert client.get("/api/v1/gate/contract/m1").json()["allowed"] is True
    status = client.get("/api/v1/status").json()
    assert status["migrations"][0]["phase"] == "verify"
    assert [r["instance"] for r in status["live"]] == ["green-1"]
    metrics = client.get("/metrics").text
    assert 'schemashift_live_instances{app="api",version="2.10.0"} 1.0' in metrics
    assert 'schemashift_migration_phase{migration="m1",phase="verify",status="running"} 1.0' in (
        metrics
    )
