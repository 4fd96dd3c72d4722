"""Every service in compose.yaml and deploy/k8s gets the settings its code reads.

"Needs" comes from the code (tests/deploy/settings.py): the settings class each service
builds and the ``settings.<name>`` it reads. Each deployment's environment must set the
deployment settings among those, name no variable the service does not read (a typo
would silently leave a default), and validate against the class.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from semantik_runtime.settings import ServiceSettings, nats_servers

from tests.deploy.k8s import OVERLAYS, container, objects, service_of
from tests.deploy.settings import (
    LIBRARY_VARIABLES,
    SETTINGS,
    fields_read,
    known_variables,
    load_settings,
    missing_variables,
    unknown_variables,
)
from tests.deploy.tools import (
    COMPOSE_ENV,
    COMPOSE_FILE,
    GATEWAY_PORT,
    HEALTH_PORT,
    SERVICES,
    compose_command,
    compose_config,
    compose_environment,
    run,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def compose_model() -> dict[str, Any]:
    """compose.yaml as Docker Compose itself loads and interpolates it."""
    result = compose_config("gpu")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def compose_env(model: dict[str, Any], name: str) -> dict[str, str]:
    return {k: str(v) for k, v in model["services"][name].get("environment", {}).items()}


def compose_deployments() -> list[tuple[str, str]]:
    """(compose service, Semantik service) pairs: the GPU embedder is an embedder."""
    return [(name, name) for name in SERVICES] + [("embedder-gpu", "embedder")]


def test_the_derivation_sees_what_the_services_read() -> None:
    """Guards the derivation itself: these uses are the reason the services exist."""
    assert {"nats_url", "database_url", "health_port"} <= fields_read("collections")
    assert {"qdrant_url", "qdrant_api_key", "health_port"} <= fields_read("search")
    assert "source_roots_value" in fields_read("ingest")  # through the source_roots property
    assert {"host", "port", "jwt_secret"} <= fields_read("gateway")
    assert "health_port" not in fields_read("gateway")  # it serves /health on its own port
    assert "database_url" not in fields_read("search")
    assert SETTINGS["collections"].__name__ == "CollectionsSettings"
    assert set(SETTINGS) == set(SERVICES)


def test_the_checks_catch_a_missing_and_a_misspelt_variable() -> None:
    env = {"NATS_URL": "nats://nats:4222", "SEMANTIK_DATA_DIR": "/data"}
    env |= {"SEMANTIK_HEALTH_PORT": "8081", "QDRANT_URL": "http://qdrant:6333"}
    assert missing_variables("search", env) == []
    assert missing_variables("search", env | {"QDRANT_URL": ""}) == [
        "search: qdrant_url (QDRANT_URL)"
    ]
    assert unknown_variables("search", env | {"QDRANT_URI": "x"}) == ["search: QDRANT_URI"]


@pytest.mark.parametrize(("name", "service"), compose_deployments())
def test_compose_services_get_what_their_code_reads(
    compose_model: dict[str, Any], name: str, service: str
) -> None:
    env = compose_env(compose_model, name)
    assert missing_variables(service, env) == []
    assert unknown_variables(service, env) == []
    settings = load_settings(service, env)
    assert nats_servers(settings.nats_url) == [f"nats://nats-{n}:4222" for n in (1, 2, 3)]
    assert settings.stream_replicas == 3
    if "database_url" in fields_read(service):
        assert settings.database_url is not None
        assert settings.database_url.startswith("postgresql://semantik:pw-from-env@postgres:")
    if "qdrant_url" in fields_read(service):
        assert settings.qdrant_url == "http://qdrant:6333"
    expected_health = 0 if service == "gateway" else HEALTH_PORT
    assert settings.health_port == expected_health, name


def test_compose_sets_no_password_of_its_own(compose_model: dict[str, Any]) -> None:
    """Passwords come from the operator's .env: none is written into compose.yaml."""
    interpolated = re.findall(r"\$\{(\w*PASSWORD\w*)(:?[-?])?", COMPOSE_FILE.read_text())
    assert {name for name, _ in interpolated} == set(COMPOSE_ENV)
    assert {rule for _, rule in interpolated} == {":?"}, "a password with a default"
    postgres = compose_env(compose_model, "postgres")
    assert postgres["POSTGRES_PASSWORD"] == COMPOSE_ENV["POSTGRES_PASSWORD"]


def test_compose_refuses_to_start_without_the_passwords() -> None:
    env = {k: v for k, v in compose_environment().items() if k not in COMPOSE_ENV}
    result = run([*compose_command(), "config", "--quiet"], env=env)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_pods_get_what_their_code_reads(overlay: str) -> None:
    (config,) = objects(overlay, "ConfigMap").values()
    shared = {str(k): str(v) for k, v in config["data"].items()}
    every_known = set().union(*(known_variables(cls) for cls in SETTINGS.values()))
    # The ConfigMap is shared, so each key must be read by some service.
    assert set(shared) - every_known - LIBRARY_VARIABLES == set()
    for deployment in objects(overlay, "Deployment").values():
        name = service_of(deployment)  # each model's embedder is an embedder too
        spec = container(deployment)
        own = {v["name"]: v.get("value", "<from a Secret>") for v in spec.get("env", [])}
        assert unknown_variables(name, own) == [], overlay
        env = shared | own
        assert missing_variables(name, env) == [], overlay
        settings = load_settings(name, {k: v for k, v in env.items() if "<" not in v})
        assert isinstance(settings, ServiceSettings)
        port = GATEWAY_PORT if name == "gateway" else HEALTH_PORT
        served = settings.port if name == "gateway" else settings.health_port  # type: ignore[attr-defined]
        assert served == port, (overlay, name)
