"""deploy/helm: the values for the NATS, Qdrant and PostgreSQL charts that deploy/k8s
expects, consistent with the manifests (release names = Service names) and compose.yaml.

Helm itself has no wheel on PyPI, so the charts are not rendered here; the key paths
were checked against the charts' default values (versions in each file's header).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from semantik_runtime.nats_config import deployment_users, password_variable

from tests.deploy.k8s import objects, service_of
from tests.deploy.tools import COMPOSE_FILE, K8S, NATS_USERS, REPO, load_yaml

pytestmark = pytest.mark.unit

HELM = REPO / "deploy" / "helm"
CHARTS = {"nats": "nats/nats", "qdrant": "qdrant/qdrant", "postgresql": "cnpg/cluster"}
DOCS = REPO / "docs" / "deploy.md"


def values(name: str) -> dict[str, Any]:
    data = load_yaml(HELM / f"{name}.values.yaml")
    assert isinstance(data, dict)
    return data


def install_command(name: str) -> tuple[str, str, str]:
    """(release, chart, chart version) of the `helm install` line in the file's header."""
    text = (HELM / f"{name}.values.yaml").read_text()
    values_file = re.escape(f"deploy/helm/{name}.values.yaml")
    match = re.search(
        rf"helm install (\S+) (\S+) -n semantik --version (\S+) -f {values_file}", text
    )
    assert match, f"{name}.values.yaml names no `helm install` with its chart version"
    release, chart, version = match.groups()
    return release, chart, version


def compose_image(service: str) -> str:
    return str(load_yaml(COMPOSE_FILE)["services"][service]["image"])


def config_map() -> dict[str, str]:
    (config,) = objects("cpu", "ConfigMap").values()
    return config["data"]  # type: ignore[no-any-return]


def test_each_values_file_installs_its_chart_and_is_documented() -> None:
    assert {p.name for p in HELM.iterdir()} == {f"{n}.values.yaml" for n in CHARTS}
    docs = DOCS.read_text()
    for name, chart in CHARTS.items():
        _, installed, version = install_command(name)
        assert installed == chart
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), name
        assert f"deploy/helm/{name}.values.yaml" in docs, f"docs/deploy.md omits {name}"


def test_nats_runs_jetstream_on_disk_with_fsync_on_every_write() -> None:
    config = values("nats")["config"]
    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True and jetstream["fileStore"]["pvc"]["enabled"]
    assert jetstream["memoryStore"]["enabled"] is False
    # The same rule as compose's nats.conf: JetStream acks before fsync otherwise.
    assert jetstream["merge"]["sync_interval"] == "always"
    conf = (REPO / "deploy" / "nats" / "nats.conf").read_text()
    assert re.search(r"(?m)^\s*sync_interval:\s*always\s*$", conf)


def test_keda_and_prometheus_can_read_nats() -> None:
    nats = values("nats")
    assert nats["config"]["monitor"] == {"enabled": True, "port": 8222}
    assert nats["service"]["ports"]["monitor"]["enabled"] is True
    assert nats["promExporter"]["enabled"] is True
    release, _, _ = install_command("nats")
    # The Service the pods reach (NATS_URL) and KEDA reads is the release's.
    assert urlparse(config_map()["NATS_URL"]).hostname == release
    keda = load_yaml(K8S / "components" / "keda" / "embedder-scaledobject.yaml")
    endpoint = keda["spec"]["triggers"][0]["metadata"]["natsServerMonitoringEndpoint"]
    assert endpoint == f"{release}.semantik.svc.cluster.local:{nats['config']['monitor']['port']}"


def test_nats_is_a_cluster_of_as_many_servers_as_stream_replicas() -> None:
    """The chart's StatefulSet of three routed servers, and the services' streams at
    three replicas (SEMANTIK_STREAM_REPLICAS): one copy per server, as in compose.yaml.
    More replicas than servers and no stream could be created."""
    cluster = values("nats")["config"]["cluster"]
    assert cluster == {"enabled": True, "replicas": 3}
    assert int(config_map()["SEMANTIK_STREAM_REPLICAS"]) == cluster["replicas"]
    nodes = [n for n in load_yaml(COMPOSE_FILE)["services"] if re.fullmatch(r"nats-\d", n)]
    assert len(nodes) == cluster["replicas"]


def test_nats_chart_runs_the_server_version_compose_runs() -> None:
    _, _, version = install_command("nats")
    compose_tag = compose_image("nats-1").split(":")[1]  # nats:2.14-alpine
    assert version.startswith(compose_tag.removesuffix("-alpine") + ".")


def test_qdrant_release_is_the_qdrant_url_and_keeps_snapshots() -> None:
    qdrant = values("qdrant")
    release, _, version = install_command("qdrant")
    assert urlparse(config_map()["QDRANT_URL"]).hostname == release
    assert compose_image("qdrant").endswith(f":v{version}")
    assert qdrant["persistence"]["size"]
    assert qdrant["snapshotPersistence"]["enabled"] is True
    limits, requests = qdrant["resources"]["limits"], qdrant["resources"]["requests"]
    assert gib(limits["memory"]) >= gib(requests["memory"]) > 0


def test_postgresql_matches_compose_and_creates_the_semantik_database() -> None:
    postgresql = values("postgresql")
    assert postgresql["type"] == "postgresql"
    assert compose_image("postgres") == f"postgres:{postgresql['version']['postgresql']}"
    initdb = postgresql["cluster"]["initdb"]
    assert initdb == {"database": "semantik", "owner": "semantik"}
    assert postgresql["cluster"]["instances"] >= 1
    release, _, _ = install_command("postgresql")
    # Where DATABASE_URL comes from, as the docs tell the operator.
    assert f"{release}-cluster-app" in DOCS.read_text()


def test_no_hand_written_statefulsets_for_the_stores() -> None:
    """NATS, PostgreSQL and Qdrant come from their charts, not from deploy/k8s."""
    for path in Path(K8S).rglob("*.yaml"):
        assert "kind: StatefulSet" not in path.read_text(), path


def gib(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) / (1024 if unit == "Mi" else 1)


@pytest.mark.reliability
def test_both_streams_are_on_the_disk_that_the_fsync_setting_covers() -> None:
    """``sync_interval`` is the server's and applies to file-stored streams: both of
    Semantik's streams are stored in files, and every service of compose and Kubernetes
    uses the server that the settings above configure."""
    from nats.js.api import StorageType
    from semantik_contracts.subjects import EVENTS_STREAM, WORK_STREAM
    from semantik_runtime.bus import stream_configs

    storage = {config.name: config.storage for config in stream_configs()}
    assert storage == {EVENTS_STREAM: StorageType.FILE, WORK_STREAM: StorageType.FILE}
    services = load_yaml(COMPOSE_FILE)["services"]
    urls = {
        name: service["environment"]["NATS_URL"]
        for name, service in services.items()
        if "NATS_URL" in (service.get("environment") or {})
    }
    nodes = ("nats-1", "nats-2", "nats-3")
    assert len(urls) >= 5 and set(urls.values()) == {
        ",".join(f"nats://{node}:4222" for node in nodes)
    }, urls
    for node in nodes:
        assert "deploy/nats/nats.conf" in str(services[node]["volumes"])
    assert urlparse(config_map()["NATS_URL"]).hostname == "nats"  # the chart's release


def test_nats_has_a_user_per_service_whose_password_comes_from_its_secret() -> None:
    """The chart's server has the users of deploy/nats/nats.conf (one per service, the
    operator, the subscriber), each password a variable of its environment filled from
    the Secret that the service's Deployment reads too."""
    nats = values("nats")
    users = nats["config"]["merge"]["authorization"]["users"]
    assert users == deployment_users(), "regenerate from nats_config.deployment_users()"
    assert [u["user"] for u in users] == list(NATS_USERS)
    env = nats["container"]["env"]
    deployments = objects("cpu", "Deployment")
    for user in NATS_USERS:
        variable = password_variable(user)
        assert next(u for u in users if u["user"] == user)["password"] == f"<< ${variable} >>"
        reference = env[variable]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": f"semantik-nats-{user}", "key": "password"}
        if user in deployments:
            (container,) = deployments[user]["spec"]["template"]["spec"]["containers"]
            service_env = {v["name"]: v for v in container["env"]}
            assert service_env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == reference
    assert {service_of(d) for d in deployments.values()} <= set(NATS_USERS)
