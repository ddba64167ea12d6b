"""The Kubernetes recipes of plugins/kubernetes/: valid YAML; each gate where it cannot
deadlock (readiness inside the rollout, contract only after it, in the Helm post-upgrade
Job); and the requests they make - Argo's web metric (url, headers, jsonPath,
successCondition), Flagger's confirm-rollout POST, the pods' register/retire hooks and
the contract Job's curl loop - answered by the server on real PostgreSQL state as the
recipe expects."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml
from serve_support import MIGRATION, ROOT, TOKEN, Migration

from schemashift.model import Phase

RECIPES = ROOT / "plugins" / "kubernetes"
SERVER = "http://schemashift.shop.svc:8080"
SECRETS = {("schemashift-token", "token"): TOKEN, ("schemashift-database", "url"): "unused"}
HELM = {".Release.Name": "shop-api", ".Release.Namespace": "shop", ".Chart.AppVersion": "2.0.0"}


def docs(relative: str, text: str | None = None) -> list[dict[str, Any]]:
    loaded = list(yaml.safe_load_all(text if text is not None else
                                     (RECIPES / relative).read_text()))  # fmt: skip
    assert loaded and all(isinstance(d, dict) for d in loaded), relative
    return loaded


def helm_render(relative: str) -> dict[str, Any]:
    """The template with the values of helm/values.yaml (every expression is a plain
    reference: nothing may be left over)."""
    values = {f".Values.schemashift.{k}": str(v)
              for k, v in docs("helm/values.yaml")[0]["schemashift"].items()}  # fmt: skip
    text = re.sub(r"\{\{\s*([.\w]+)\s*\}\}", lambda m: {**values, **HELM}[m.group(1)],
                  (RECIPES / relative).read_text())  # fmt: skip
    assert "{{" not in text
    (job,) = docs(relative, text)
    return job


def container_env(container: dict[str, Any], **extra: str) -> dict[str, str]:
    env = dict(extra)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = SECRETS[(ref["name"], ref["key"])]
    return env


def curl(command: str, env: dict[str, str]) -> dict[str, Any]:
    """The request of the first ``curl`` in a shell command, its variables expanded."""
    words = shlex.split(command.replace("\\\n", " "))
    words = words[words.index("curl") + 1 :]
    request: dict[str, Any] = {"method": "GET", "headers": {}, "body": None}

    def expand(word: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], word)

    while words:
        word = words.pop(0)
        if word in ("||", "&&", ";", "do"):
            break
        if word == "-X":
            request["method"] = words.pop(0)
        elif word == "-H":
            key, _, value = expand(words.pop(0)).partition(":")
            request["headers"][key.strip()] = value.strip()
        elif word in ("--data", "-d"):
            request["body"] = expand(words.pop(0))
        elif word.startswith("-"):
            assert word in ("-fsS", "-f", "-s", "-S"), word
        else:
            request["url"] = expand(word.rstrip(";"))
            if word.endswith(";"):
                break
    return request


def send(client: Any, request: dict[str, Any]) -> Any:
    assert request["url"].startswith(SERVER), request
    return client.request(request["method"], request["url"][len(SERVER):],
                          headers=request["headers"], content=request["body"])  # fmt: skip


def test_recipes_are_valid_and_each_gate_sits_where_it_cannot_deadlock() -> None:
    files = sorted(RECIPES.rglob("*.yaml"))
    assert len(files) >= 7
    for path in files:
        relative = str(path.relative_to(RECIPES))
        for doc in docs(relative):
            if relative != "helm/values.yaml":
                assert {"apiVersion", "kind", "metadata"} <= set(doc), relative
        # The contract gate is asked by the post-upgrade Job only.
        if "gate/contract" in path.read_text():
            assert relative == "helm/templates/schemashift-contract-job.yaml", relative
    expand = helm_render("helm/templates/schemashift-expand-job.yaml")
    hooks = expand["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"pre-install", "pre-upgrade"}
    (container,) = expand["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["expand", f"{MIGRATION}.sql", "--for-app", "api@2.0.0"]
    contract = helm_render("helm/templates/schemashift-contract-job.yaml")
    hooks = contract["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"post-install", "post-upgrade"}
    script = contract["spec"]["template"]["spec"]["containers"][0]["args"][0]
    order = [script.index(s) for s in ("schemashift backfill", "schemashift verify",
                                       "until curl", "schemashift contract")]  # fmt: skip
    assert order == sorted(order)
    assert isinstance(contract["spec"]["activeDeadlineSeconds"], int)
    # Readiness inside the rollouts: pre-promotion analysis, a canary step, confirm-rollout.
    for name in ("argo-rollouts/rollout.yaml", "argo-rollouts/rollout-canary.yaml"):
        (rollout,) = docs(name)
        strategy = rollout["spec"]["strategy"]
        assert "postPromotionAnalysis" not in strategy.get("blueGreen", {})
        assert "analysis" not in strategy.get("canary", {})  # no background analysis
    (rollout,) = docs("argo-rollouts/rollout.yaml")
    pre = rollout["spec"]["strategy"]["blueGreen"]["prePromotionAnalysis"]
    assert pre["templates"] == [{"templateName": "schemashift-ready"}]
    (canary,) = docs("argo-rollouts/rollout-canary.yaml")
    steps = canary["spec"]["strategy"]["canary"]["steps"]
    assert any(s.get("analysis", {}).get("templates") == [{"templateName": "schemashift-ready"}]
               for s in steps)  # fmt: skip
    (flagger,) = docs("flagger/canary.yaml")
    hooks_by_type = {w["type"]: w for w in flagger["spec"]["analysis"]["webhooks"]}
    assert set(hooks_by_type) == {"confirm-rollout"}
    assert "/api/v1/gate/ready/" in hooks_by_type["confirm-rollout"]["url"]


def argo_measurement(client: Any, migration: str) -> tuple[int, Any, bool]:
    """What Argo's web provider measures with the AnalysisTemplate: (HTTP status, result
    at jsonPath, successCondition)."""
    (template,) = docs("argo-rollouts/analysis-template.yaml")
    args = {a["name"]: a.get("value") for a in template["spec"]["args"]}
    args.update(migration=migration, token=TOKEN)  # the token comes from its Secret
    (metric,) = template["spec"]["metrics"]
    assert metric["consecutiveSuccessLimit"] == 1 and metric["failureLimit"] == -1
    web = metric["provider"]["web"]

    def fill(text: str) -> str:
        return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: str(args[m.group(1)]), text)

    url = fill(web["url"])
    assert url.endswith("?as=verdict") and web.get("method", "GET") == "GET"
    answer = send(client, {"method": "GET", "url": url, "body": None,
                           "headers": {h["key"]: fill(h["value"]) for h in web["headers"]}})  # fmt: skip
    path = re.fullmatch(r"\{\$\.([\w.]+)\}", web["jsonPath"])
    assert path is not None, web["jsonPath"]
    result: Any = answer.json()
    for key in path.group(1).split("."):
        result = result[key]
    condition = re.fullmatch(r'result == "(\w+)"', metric["successCondition"])
    assert condition is not None, metric["successCondition"]
    return answer.status_code, result, result == condition.group(1)


@pytest.mark.postgres
def test_recipes_requests_against_the_server(migration: Migration, client_for: Any,
                                             pg_conn: Any) -> None:  # fmt: skip
    guarded = client_for(migration.url, protect_reads=True)  # Argo and the Jobs send the token
    flagger_side = client_for(migration.url)  # Flagger's webhooks send no header
    expand = helm_render("helm/templates/schemashift-expand-job.yaml")
    app, version = expand["spec"]["template"]["spec"]["containers"][0]["args"][3].split("@")
    migration.run(Phase.EXPAND, for_app=app, for_version=version)

    # The pods register themselves (postStart) and retire on the way out (preStop).
    (rollout,) = docs("argo-rollouts/rollout.yaml")
    (pod,) = rollout["spec"]["template"]["spec"]["containers"]
    lifecycle = {k: v["exec"]["command"][2] for k, v in pod["lifecycle"].items()}
    for host, app_version in (("api-old-1", "1.9.0"), ("api-new-1", "2.0.0")):
        env = container_env(pod, HOSTNAME=host)
        env["APP_VERSION"] = app_version
        registered = send(guarded, curl(lifecycle["postStart"], env))
        assert registered.status_code == 200, registered.text
    # Readiness, as Argo measures it and as Flagger asks it.
    assert argo_measurement(guarded, MIGRATION) == (200, "blocked", False)
    assert argo_measurement(guarded, "0099_not_expanded_here") == (200, "unknown", False)
    (canary,) = docs("flagger/canary.yaml")
    (hook,) = canary["spec"]["analysis"]["webhooks"]
    payload = {"name": canary["metadata"]["name"], "namespace": "shop", "phase": "Progressing",
               "checksum": "7d9c6f", "metadata": hook["metadata"]}  # fmt: skip

    def confirm_rollout() -> int:
        answer = flagger_side.post(hook["url"][len(SERVER) :], json=payload)
        return int(answer.status_code)

    assert hook["url"].startswith(SERVER)  # Flagger POSTs its payload to the url, no headers
    assert confirm_rollout() == 409  # not 2xx: Flagger keeps the canary waiting
    migration.run(Phase.BACKFILL)
    migration.run(Phase.VERIFY)
    assert argo_measurement(guarded, MIGRATION) == (200, "allowed", True)
    assert confirm_rollout() == 200

    # The post-upgrade Job's loop: closed while the old pod lives, open once it retired.
    job = helm_render("helm/templates/schemashift-contract-job.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script, env = container["args"][0], container_env(container)
    asked = curl(script, env)
    assert (
        asked["method"] == "POST" and asked["url"] == f"{SERVER}/api/v1/gate/contract/{MIGRATION}"
    )
    blocked = send(guarded, asked)
    assert blocked.status_code == 409  # curl -f fails: the loop sleeps and asks again
    assert [b["instance"] for b in blocked.json()["blockers"]] == ["api-old-1"]
    retired = send(guarded, curl(lifecycle["preStop"], container_env(pod, HOSTNAME="api-old-1")))
    assert retired.status_code == 200 and retired.json()["retired"] == 1
    assert send(guarded, asked).status_code == 200  # curl succeeds: the loop ends
    (detail,) = pg_conn.execute(
        "SELECT detail FROM schemashift.events WHERE action = 'gate_allowed' ORDER BY id DESC "
        "LIMIT 1").fetchone()  # fmt: skip
    assert detail["requested_by"]["requested_by"] == "helm/shop-api"
    assert detail["requested_by"]["name"] == "shop-api"
    assert detail["requested_by"]["phase"] == "post-upgrade"
    migration.run(Phase.CONTRACT)  # what `schemashift contract` then runs
