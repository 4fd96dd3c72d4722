"""deploy/k8s: each service signs in to NATS as itself, and NetworkPolicies admit only
the clients each pod needs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.k8s import OVERLAYS, container, objects, service_of
from tests.deploy.settings import DATABASE_USERS, QDRANT_USERS
from tests.deploy.tools import GATEWAY_PORT, HEALTH_PORT

pytestmark = pytest.mark.unit


def nats_secret(user: str) -> str:
    """The Secret that holds ``user``'s NATS password (key ``password``); the operator
    creates it (docs/deploy.md) and the NATS server reads it too (nats.values.yaml)."""
    return f"semantik-nats-{user}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_signs_in_to_nats_as_itself(overlay: str) -> None:
    for deployment in objects(overlay, "Deployment").values():
        name = service_of(deployment)  # each model's embedder signs in as `embedder`
        env = {v["name"]: v for v in container(deployment)["env"]}
        assert env["NATS_USER"]["value"] == name
        reference = env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": nats_secret(name), "key": "password"}, name


# -- NetworkPolicies -------------------------------------------------------------------
#: Who may open a connection to what: (pod name label or namespace) → port.
ALLOWED_CLIENTS = {
    "nats": {"collections", "ingest", "embedder", "search", "gateway"},
    "postgresql": {"collections", "ingest", "gateway"},
    "qdrant": {"embedder", "search"},
}


def policies(overlay: str) -> dict[str, dict[str, Any]]:
    return objects(overlay, "NetworkPolicy")


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


#: Labels whose value names a service's pods: every embedder (one Deployment per model)
#: is selected by its component, `embedder`.
NAMING_LABELS = {"app.kubernetes.io/name", "app.kubernetes.io/component"}


def admitted(overlay: str, labels: dict[str, str], port: int) -> set[str]:
    """Who the policies let reach a pod with ``labels`` on ``port``: pod names
    (``app.kubernetes.io/name`` or ``/component``, or another label's ``key=value``) and
    ``ns:<name>``."""
    found: set[str] = set()
    for policy in policies(overlay).values():
        if not selects(policy, labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            assert rule.get("from"), "a rule without `from` admits everyone"
            for peer in rule["from"]:
                assert not ("podSelector" in peer and "namespaceSelector" in peer)
                if "namespaceSelector" in peer:
                    match = peer["namespaceSelector"]["matchLabels"]
                    found.add("ns:" + match["kubernetes.io/metadata.name"])
                else:
                    match = peer["podSelector"]["matchLabels"]
                    found |= {v if k in NAMING_LABELS else f"{k}={v}" for k, v in match.items()}
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_denies_ingress_unless_a_policy_lets_it(overlay: str) -> None:
    deny = policies(overlay)["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert not deny.get("ingress")
    for policy in policies(overlay).values():
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        # Selectors name pods by their own labels, not base's part-of label (which the
        # Helm charts' pods lack).
        assert "app.kubernetes.io/part-of" not in str(policy["spec"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_is_reached_from_the_ingress_controller(overlay: str) -> None:
    gateway = objects(overlay, "Deployment")["gateway"]
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert admitted(overlay, labels, GATEWAY_PORT) == {"ns:ingress-nginx", "ns:monitoring"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_other_services_accept_only_metrics_scrapes(overlay: str) -> None:
    for name, deployment in objects(overlay, "Deployment").items():
        if name == "gateway":
            continue
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert admitted(overlay, labels, HEALTH_PORT) == {"ns:monitoring"}, name
        assert admitted(overlay, labels, 8080) == set(), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_stores_accept_only_the_services_that_use_them(overlay: str) -> None:
    nats = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
    assert admitted(overlay, nats, 4222) == ALLOWED_CLIENTS["nats"] | {"nats"}
    # The cluster's routes (deploy/helm/nats.values.yaml): its servers, and no one else.
    assert admitted(overlay, nats, 6222) == {"nats"}
    postgres = {"cnpg.io/cluster": "semantik-pg-cluster"}
    assert (
        admitted(overlay, postgres, 5432)
        - {
            "ns:cnpg-system",
            "cnpg.io/cluster=semantik-pg-cluster",
        }
        == ALLOWED_CLIENTS["postgresql"]
    )
    qdrant = {"app.kubernetes.io/name": "qdrant"}
    assert admitted(overlay, qdrant, 6333) - {"ns:monitoring"} == ALLOWED_CLIENTS["qdrant"]
    assert admitted(overlay, qdrant, 6334) == ALLOWED_CLIENTS["qdrant"]
    # The event-sourced services are the database's only Semantik clients.
    assert ALLOWED_CLIENTS["postgresql"] == DATABASE_USERS
    assert ALLOWED_CLIENTS["qdrant"] == QDRANT_USERS | {"search", "embedder"}
