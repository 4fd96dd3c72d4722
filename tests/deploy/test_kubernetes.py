"""deploy/k8s: both overlays render with kustomize and every object is valid Kubernetes."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.subjects import WORK_STREAM, embed_consumer_name, model_slug

from tests.deploy.k8s import (
    KUBERNETES_VERSIONS,
    NAMESPACE,
    OVERLAYS,
    SECRET_KEYS,
    SECRET_NAME,
    container,
    is_keda,
    keda_schema_errors,
    objects,
    render,
    service_of,
    validation_errors,
)
from tests.deploy.settings import DATABASE_USERS, QDRANT_USERS, fields_read
from tests.deploy.tools import (
    GATEWAY_PORT,
    HEALTH_PORT,
    K8S,
    SERVICES,
    load_yaml,
    load_yaml_all,
    module_exists,
    run,
    tool,
)

pytestmark = pytest.mark.unit


def test_every_file_under_deploy_k8s_is_yaml_kustomize_knows() -> None:
    """A file no kustomization lists is never applied: probably a mistake. The one
    exception is the list of models that components/models is generated from."""
    listed = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = load_yaml(kustomization)
        for entry in spec.get("resources", []) + spec.get("components", []):
            listed.add((kustomization.parent / entry).resolve())
        for patch in spec.get("patches", []):
            if "path" in patch:
                listed.add((kustomization.parent / patch["path"]).resolve())
    for path in K8S.rglob("*.yaml"):
        assert load_yaml_all(path.read_text()), path
        if path.name != "kustomization.yaml" and path != K8S / "models.yaml":
            assert path.resolve() in listed, f"{path} is in no kustomization"
    for overlay in OVERLAYS:
        assert (K8S / "overlays" / overlay).resolve() not in listed  # entry points


def test_base_resources_are_namespace_agnostic_and_valid() -> None:
    """Checked file by file, without kustomize: what `kubectl apply -f` would see."""
    errors = []
    for path in sorted((K8S / "base").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in load_yaml_all(path.read_text()):
            assert "namespace" not in document["metadata"], path
            errors += validation_errors(document)
    assert errors == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_valid_kubernetes(overlay: str) -> None:
    documents = render(overlay)
    errors = [e for d in documents if not is_keda(d) for e in validation_errors(d)]
    assert errors == []
    assert {d["metadata"].get("namespace") for d in documents} == {NAMESPACE}
    assert {d["kind"] for d in documents} == {
        "ConfigMap",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "PersistentVolumeClaim",
        "ScaledObject",
        "NetworkPolicy",
    }
    # The operator creates the Secret; no value of it is committed.
    assert not [d for d in documents if d["kind"] == "Secret"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_objects_match_kedas_schema(overlay: str) -> None:
    documents = [d for d in render(overlay) if is_keda(d)]
    assert documents
    for document in documents:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)
        assert keda_schema_errors(document) == []


def test_the_keda_schema_check_rejects_mistakes() -> None:
    scaled = objects("cpu", "ScaledObject")["embedder"]
    misspelt = copy.deepcopy(scaled)
    misspelt["spec"]["minReplicas"] = misspelt["spec"].pop("minReplicaCount")
    assert keda_schema_errors(misspelt) == ["fields unknown to KEDA: ['.spec.minReplicas']"]
    mistyped = copy.deepcopy(scaled)
    mistyped["spec"]["maxReplicaCount"] = "eight"
    assert keda_schema_errors(mistyped)


def embedder_model(deployment: dict[str, Any]) -> str:
    """The model an embedder Deployment serves: SEMANTIK_EMBED_MODEL, else the default."""
    env = {v["name"]: v.get("value") for v in container(deployment).get("env", [])}
    return env.get("SEMANTIK_EMBED_MODEL") or DEFAULT_MODEL.name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_each_embedder_on_its_models_consumer_lag(overlay: str) -> None:
    """One ScaledObject per embedder Deployment (one per model), reading the lag of the
    durable consumer that the embedders of that model share on the work stream."""
    deployments = objects(overlay, "Deployment")
    embedders = {
        n: d for n, d in deployments.items() if container(d)["args"] == ["embedder_service"]
    }
    scaled_objects = objects(overlay, "ScaledObject").values()
    targets = [s["spec"]["scaleTargetRef"] for s in scaled_objects]
    assert sorted(t["name"] for t in targets) == sorted(embedders)
    assert embedder_model(embedders["embedder"]) == DEFAULT_MODEL.name
    (config,) = objects(overlay, "ConfigMap").values()
    nats_host = urlparse(config["data"]["NATS_URL"]).hostname

    for scaled in scaled_objects:
        spec = scaled["spec"]
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        embedder = embedders[spec["scaleTargetRef"]["name"]]
        # KEDA's HPA owns the replica count.
        assert "replicas" not in embedder["spec"]
        # Embedders also answer query embeddings: scaling to zero would stop search.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]

        (trigger,) = spec["triggers"]
        assert trigger["type"] == "nats-jetstream"
        metadata = trigger["metadata"]
        assert all(isinstance(v, str) for v in metadata.values()), "KEDA metadata is strings"
        assert metadata["stream"] == WORK_STREAM
        slug = model_slug(embedder_model(embedder))
        assert metadata["consumer"] == embed_consumer_name(slug)
        assert metadata["account"] == "$G"
        assert int(metadata["lagThreshold"]) > 0
        host, port = metadata["natsServerMonitoringEndpoint"].rsplit(":", 1)
        # KEDA runs in its own namespace: the NATS Service needs its full name, the
        # same Service the pods reach as NATS_URL.
        assert host == f"{nats_host}.{NAMESPACE}.svc.cluster.local" and port == "8222"


def test_the_default_models_consumer_is_the_one_the_docs_name() -> None:
    assert embed_consumer_name(model_slug(DEFAULT_MODEL.name)) == "embedder-all-minilm-l6-v2"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_and_service_per_service(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    services = objects(overlay, "Service")
    # Besides, one embedder per model of deploy/k8s/models.yaml (test_kubernetes_models).
    per_model = {n for n, d in deployments.items() if n not in SERVICES}
    assert {service_of(deployments[n]) for n in per_model} <= {"embedder"}
    assert set(deployments) - per_model == set(SERVICES) == set(services)
    for name in SERVICES:
        deployment, service = deployments[name], services[name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), name
        assert service["spec"]["selector"].items() <= pod_labels.items(), name
        port_names = {p["name"] for p in container(deployment)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names, name
        args = container(deployment)["args"]
        assert args == [f"{name}_service"] and module_exists(args[0]), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_gets_its_environment(overlay: str) -> None:
    (config,) = objects(overlay, "ConfigMap").values()
    data = config["data"]
    assert data["NATS_URL"] == "nats://nats:4222"
    assert data["SEMANTIK_STREAM_REPLICAS"] == "3"  # R3 on the chart's three servers
    assert data["QDRANT_URL"] == "http://qdrant:6333"
    assert data["SEMANTIK_HEALTH_PORT"] == str(HEALTH_PORT)
    assert data["SEMANTIK_PORT"] == str(GATEWAY_PORT)
    assert data["SEMANTIK_HOST"] == "0.0.0.0"
    assert "/sources" in data["SEMANTIK_SOURCE_ROOTS"].split(":")
    # A torch device name (overlays/gpu sets cuda on the embedder); unset would mean auto.
    assert data["SEMANTIK_EMBED_DEVICE"] == "cpu"
    assert not SECRET_KEYS & set(data), "secrets belong in the Secret"

    for deployment in objects(overlay, "Deployment").values():
        name = service_of(deployment)
        spec = container(deployment)
        assert spec["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        from_secret = {}
        for variable in spec.get("env", []):
            assert variable["name"] not in SECRET_KEYS or "valueFrom" in variable, name
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if variable["name"] == "NATS_PASSWORD":
                continue  # its own Secret: test_every_service_signs_in_to_nats_as_itself
            if reference:
                assert reference["name"] == SECRET_NAME, name
                assert reference["key"] in SECRET_KEYS, name
                from_secret[variable["name"]] = reference
        required = {k for k, r in from_secret.items() if not r.get("optional", False)}
        expected = ({"DATABASE_URL"} if name in DATABASE_USERS else set()) | (
            {"JWT_SECRET", "SEMANTIK_METRICS_TOKEN"} if name == "gateway" else set()
        )
        assert required == expected, name
        if name in QDRANT_USERS:
            assert from_secret["QDRANT_API_KEY"]["optional"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_probed_limited_and_unprivileged(overlay: str) -> None:
    assert "SEMANTIK_EXTRACT_WORKERS" in {
        v["name"] for v in container(objects(overlay, "Deployment")["ingest"])["env"]
    }
    for name, deployment in objects(overlay, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        spec = container(deployment)
        security = spec["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        writable = {m["mountPath"] for m in spec["volumeMounts"] if not m.get("readOnly")}
        assert {"/data", "/tmp"} <= writable, name

        port = GATEWAY_PORT if name == "gateway" else HEALTH_PORT
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/health/ready")):
            action = spec[probe]["httpGet"]
            assert action["path"] == path, (name, probe)
            assert ports.get(action["port"], action["port"]) == port, (name, probe)

        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(spec["resources"][kind]), (name, kind)
        env = {v["name"]: v.get("value") for v in spec.get("env", [])}
        if "SEMANTIK_EXTRACT_WORKERS" in env:
            # A process pool sized by the node's CPUs would oversubscribe the limit.
            limit = str(spec["resources"]["limits"]["cpu"])
            cpu_limit = float(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)
            assert int(env["SEMANTIK_EXTRACT_WORKERS"]) <= cpu_limit, name

        # Prometheus finds /metrics on the port that serves the probes.
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(port), name
        assert annotations["prometheus.io/path"] == "/metrics", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_and_search_keep_a_pod_through_disruptions(overlay: str) -> None:
    budgets = objects(overlay, "PodDisruptionBudget")
    deployments = objects(overlay, "Deployment")
    assert set(budgets) == {"gateway", "search"}
    for name, budget in budgets.items():
        deployment = deployments[name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        # A budget as large as the replica count would block every node drain.
        assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"], name


def test_only_the_gpu_overlay_puts_the_embedder_on_a_gpu() -> None:
    for overlay in OVERLAYS:
        for name, deployment in objects(overlay, "Deployment").items():
            spec = container(deployment)
            gpus = spec["resources"]["limits"].get("nvidia.com/gpu")
            env = {v["name"]: v.get("value") for v in spec.get("env", [])}
            on_gpu = overlay == "gpu" and service_of(deployment) == "embedder"
            assert (gpus == 1) is on_gpu, (overlay, name)
            assert ("embedder-cuda" in spec["image"]) is on_gpu, (overlay, name)
            assert (env.get("SEMANTIK_EMBED_DEVICE") == "cuda") is on_gpu, (overlay, name)
            if on_gpu:
                tolerations = deployment["spec"]["template"]["spec"]["tolerations"]
                assert any(t["key"] == "nvidia.com/gpu" for t in tolerations)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_models_volume_component_shares_models_with_every_registry_reader(
    overlay: str, tmp_path: Path
) -> None:
    """components/models-volume: an overlay that adds it mounts one ReadWriteMany claim
    read-only at SEMANTIK_MODELS_DIR in collections, ingest and the embedders (they may run on
    any node); without it, no pod waits for a claim that most clusters can't bind."""
    k8s = Path(os.path.relpath(K8S, tmp_path))
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {NAMESPACE}\nresources:\n  - {k8s}/overlays/{overlay}\n"
        f"components:\n  - {k8s}/components/models-volume\n"
    )
    result = run([tool("kubectl"), "kustomize", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    documents = load_yaml_all(result.stdout)
    assert [e for d in documents if not is_keda(d) for e in validation_errors(d)] == []
    (claim,) = [d for d in documents if d["metadata"]["name"] == "semantik-models"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (config,) = objects(overlay, "ConfigMap").values()
    models_dir = config["data"]["SEMANTIK_MODELS_DIR"]
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        name = service_of(deployment)
        mounts = {m["mountPath"]: m for m in container(deployment)["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        reads_registry = "models_dir" in fields_read(name)
        assert (models_dir in mounts) is reads_registry, name
        if reads_registry:
            mount = mounts[models_dir]
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == "semantik-models"
    for deployment in objects(overlay, "Deployment").values():
        assert models_dir not in {m["mountPath"] for m in container(deployment)["volumeMounts"]}
