"""deploy/k8s/models.yaml: each listed model gets its own embedder and KEDA ScaledObject
(``python -m semantik.k8s_models``), in both overlays, as the default model's embedder
runs; a name that cannot be served is refused before anything is written."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.subjects import WORK_STREAM, embed_consumer_name, model_slug

from semantik.k8s_models import (
    COMPONENTS,
    GENERATED,
    ModelListError,
    differences,
    generated_files,
    main,
    parse_models,
)
from tests.deploy.k8s import (
    NAMESPACE,
    OVERLAYS,
    container,
    is_keda,
    keda_schema_errors,
    render_tree,
    validation_errors,
)
from tests.deploy.test_kubernetes_network import selects
from tests.deploy.tools import HEALTH_PORT, K8S, load_yaml_all, run, tool

pytestmark = pytest.mark.unit

#: Two models, one with the defaults and one with every bound set.
MODELS = {"BAAI/bge-small-en-v1.5": (1, 8, 20), "intfloat/e5-base-v2": (2, 3, 40)}
MODEL_LIST = """models:
  - BAAI/bge-small-en-v1.5
  - name: intfloat/e5-base-v2
    min_replicas: 2
    max_replicas: 3
    lag_threshold: 40
    resources:
      requests: {cpu: "2", memory: 2Gi}
      limits: {cpu: "4", memory: 3Gi}
"""


def embedder_name(model: str) -> str:
    return embed_consumer_name(model_slug(model))


def test_the_committed_components_are_what_the_generator_writes() -> None:
    models = parse_models((K8S / "models.yaml").read_text())
    assert differences(K8S, generated_files(K8S, models)) == []
    assert main(["--k8s", str(K8S), "--check"]) == 0


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of deploy/k8s whose list names :data:`MODELS`, generated."""
    k8s = tmp_path_factory.mktemp("deploy") / "k8s"
    shutil.copytree(K8S, k8s)
    (k8s / "models.yaml").write_text(MODEL_LIST)
    assert main(["--k8s", str(k8s), "--check"]) == 1  # a changed list: out of date
    assert main(["--k8s", str(k8s)]) == 0
    assert main(["--k8s", str(k8s), "--check"]) == 0
    yield k8s


@pytest.fixture(scope="module")
def rendered(two_models: Path) -> dict[str, tuple[dict[str, Any], ...]]:
    return {overlay: render_tree(two_models, overlay) for overlay in OVERLAYS}


Check = Callable[[dict[str, Any]], list[str]]


@pytest.fixture(scope="module")
def checked() -> Callable[[Check, dict[str, Any]], list[str]]:
    """A check's errors in a document, each distinct document checked once: the two
    overlays render most objects alike, and kubernetes-validate reads and compiles its
    schema for every document and Kubernetes version it is given."""
    found: dict[tuple[Check, str], list[str]] = {}

    def errors(check: Check, document: dict[str, Any]) -> list[str]:
        key = (check, json.dumps(document, sort_keys=True))
        if key not in found:
            found[key] = check(document)
        return found[key]

    return errors


def by_name(documents: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def environment(deployment: dict[str, Any]) -> dict[str, Any]:
    return {v["name"]: v.get("value", v.get("valueFrom")) for v in container(deployment)["env"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_model_gets_an_embedder_scaled_on_its_own_consumer(
    overlay: str,
    rendered: dict[str, tuple[dict[str, Any], ...]],
    checked: Callable[[Check, dict[str, Any]], list[str]],
) -> None:
    documents = rendered[overlay]
    assert [e for d in documents if not is_keda(d) for e in checked(validation_errors, d)] == []
    assert [e for d in documents if is_keda(d) for e in checked(keda_schema_errors, d)] == []
    assert {d["metadata"]["namespace"] for d in documents} == {NAMESPACE}
    deployments = by_name(documents, "Deployment")
    scaled = by_name(documents, "ScaledObject")
    embedders = {n for n, d in deployments.items() if container(d)["args"] == ["embedder_service"]}
    assert embedders == {"embedder", *map(embedder_name, MODELS)}
    assert set(scaled) == embedders
    assert environment(deployments["embedder"])["SEMANTIK_EMBED_MODEL"] == DEFAULT_MODEL.name

    endpoint_key = "natsServerMonitoringEndpoint"  # the same NATS as the default's
    for model, (least, most, lag) in MODELS.items():
        name = embedder_name(model)
        assert environment(deployments[name])["SEMANTIK_EMBED_MODEL"] == model
        assert "replicas" not in deployments[name]["spec"]  # KEDA's HPA owns it
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (least, most)
        (trigger,) = spec["triggers"]
        assert trigger["metadata"]["stream"] == WORK_STREAM
        assert trigger["metadata"]["consumer"] == embed_consumer_name(model_slug(model))
        assert trigger["metadata"]["lagThreshold"] == str(lag)
        endpoint = trigger["metadata"][endpoint_key]
        assert endpoint == scaled["embedder"]["spec"]["triggers"][0]["metadata"][endpoint_key]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_models_embedder_runs_as_the_default_one_does(
    overlay: str, rendered: dict[str, tuple[dict[str, Any], ...]]
) -> None:
    """Same image (the CUDA one and a GPU on overlays/gpu), NATS user, probes and
    security; its own pod labels, so no Deployment or Service selects another's pods."""
    deployments = by_name(rendered[overlay], "Deployment")
    default = deployments["embedder"]
    default_pod = default["spec"]["template"]
    for model in MODELS:
        deployment = deployments[embedder_name(model)]
        pod = deployment["spec"]["template"]
        assert pod["spec"]["securityContext"] == default_pod["spec"]["securityContext"]
        assert pod["spec"].get("tolerations") == default_pod["spec"].get("tolerations")
        ours, theirs = container(deployment), container(default)
        for key in ("image", "securityContext", "livenessProbe", "readinessProbe", "ports"):
            assert ours[key] == theirs[key], (model, key)
        env, default_env = environment(deployment), environment(default)
        assert env.pop("SEMANTIK_EMBED_MODEL") == model
        default_env.pop("SEMANTIK_EMBED_MODEL")
        assert env == default_env  # NATS_USER embedder, its Secret; cuda on the GPU
        gpus = ours["resources"]["limits"].get("nvidia.com/gpu")
        assert gpus == (1 if overlay == "gpu" else None)
        if overlay == "cpu" and model == "intfloat/e5-base-v2":
            assert ours["resources"]["limits"] == {"cpu": "4", "memory": "3Gi"}
        elif overlay == "cpu":
            assert ours["resources"] == theirs["resources"]

        labels = pod["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "embedder"
        for other in deployments.values():
            selector = other["spec"]["selector"]["matchLabels"]
            assert (selector.items() <= labels.items()) is (other is deployment), model
        for service in by_name(rendered[overlay], "Service").values():
            assert not service["spec"]["selector"].items() <= labels.items(), model


def reaches(
    documents: tuple[dict[str, Any], ...], client: dict[str, str], target: dict[str, str], port: int
) -> bool:
    """Whether a NetworkPolicy lets a pod of this namespace with labels ``client`` open
    ``port`` on a pod with labels ``target``."""
    for policy in by_name(documents, "NetworkPolicy").values():
        if not selects(policy, target):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            peers = [p["podSelector"] for p in rule.get("from", []) if "podSelector" in p]
            if port in ports and any(selects({"spec": {"podSelector": p}}, client) for p in peers):
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_models_embedder_gets_the_embedders_network_access(
    overlay: str, rendered: dict[str, tuple[dict[str, Any], ...]]
) -> None:
    documents = rendered[overlay]
    deployments = by_name(documents, "Deployment")
    nats = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
    qdrant = {"app.kubernetes.io/name": "qdrant"}
    search = deployments["search"]["spec"]["template"]["metadata"]["labels"]
    for name in ("embedder", *map(embedder_name, MODELS)):
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert reaches(documents, labels, nats, 4222), name
        assert reaches(documents, labels, qdrant, 6333), name
        assert not reaches(documents, labels, {"cnpg.io/cluster": "semantik-pg-cluster"}, 5432)
        # Nothing but Prometheus (another namespace) reaches it, on the health port.
        assert not reaches(documents, search, labels, HEALTH_PORT), name
        assert any(
            selects(policy, labels) and policy["metadata"]["name"] == "services-health"
            for policy in by_name(documents, "NetworkPolicy").values()
        ), name


def test_the_models_volume_reaches_each_models_embedder(two_models: Path, tmp_path: Path) -> None:
    """components/models-volume, added after components/models (as the overlays' comment
    says), mounts the models' claim in every embedder."""
    k8s = Path(os.path.relpath(two_models, tmp_path))
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {NAMESPACE}\nresources:\n  - {k8s}/overlays/cpu\n"
        f"components:\n  - {k8s}/components/models-volume\n"
    )
    result = run([tool("kubectl"), "kustomize", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    deployments = {
        d["metadata"]["name"]: d for d in load_yaml_all(result.stdout) if d["kind"] == "Deployment"
    }
    for name in ("embedder", *map(embedder_name, MODELS)):
        mounts = {m["mountPath"]: m for m in container(deployments[name])["volumeMounts"]}
        volumes = {v["name"]: v for v in deployments[name]["spec"]["template"]["spec"]["volumes"]}
        assert mounts["/models"]["readOnly"] is True, name
        claim = volumes[mounts["/models"]["name"]]["persistentVolumeClaim"]
        assert claim["claimName"] == "semantik-models", name


def test_a_model_dropped_from_the_list_loses_its_component(tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    shutil.copytree(K8S, k8s)
    (k8s / "models.yaml").write_text(MODEL_LIST)
    assert main(["--k8s", str(k8s)]) == 0
    mine = k8s / COMPONENTS / "notes"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text("# written by hand\n")
    (k8s / "models.yaml").write_text("models: [intfloat/e5-base-v2]\n")
    assert main(["--k8s", str(k8s), "--check"]) == 1
    assert main(["--k8s", str(k8s)]) == 0
    components = k8s / COMPONENTS
    assert sorted(p.name for p in components.iterdir() if p.is_dir()) == ["e5-base-v2", "notes"]
    assert (components / "kustomization.yaml").read_text().startswith(GENERATED)
    assert "- e5-base-v2\n" in (components / "kustomization.yaml").read_text()


BAD_LISTS = {
    "empty name": ("models: ['']", "empty"),
    "blank name": ("models: ['  ']", "empty"),
    "path traversal": ("models: ['../x']", "'../x'"),
    "traversal inside": ("models: ['org/../x']", "'org/../x'"),
    "absolute path": ("models: ['/models/x']", "'/models/x'"),
    "three parts": ("models: ['a/b/c']", "'a/b/c'"),
    "a space": ("models: ['my model']", "'my model'"),
    "underscore": ("models: ['org/my_model']", "'embedder-my_model' is not a valid Kubernetes"),
    "too long": (f"models: ['org/{'m' * 60}']", "not a valid Kubernetes name"),
    "the default": (f"models: ['{DEFAULT_MODEL.name}']", "base/embedder.yaml already"),
    "one slug, two models": ("models: [a/x, b/x]", "share the slug 'x'"),
    "listed twice": ("models: [a/x, {name: a/x, max_replicas: 2}]", "'a/x' is listed twice"),
    "the default's slug": ("models: [other/all-MiniLM-L6-v2]", "share the slug"),
    "scaled to zero": ("models: [{name: a/x, min_replicas: 0}]", "min_replicas"),
    "min above max": ("models: [{name: a/x, min_replicas: 3, max_replicas: 2}]", "above"),
    "unknown key": ("models: [{name: a/x, replicas: 2}]", "replicas"),
    "a number": ("models: [5]", "models.0"),
    "not a list": ("models: a/x", "valid list"),
    "not YAML": ("models: [a/x", "not YAML"),
}


@pytest.mark.parametrize(("text", "message"), BAD_LISTS.values(), ids=BAD_LISTS.keys())
def test_a_model_that_cannot_be_served_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(ModelListError) as refused:
        parse_models(text)
    assert message in str(refused.value)


def test_a_refused_list_writes_nothing_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    k8s = tmp_path / "k8s"
    shutil.copytree(K8S, k8s)
    before = {p: p.read_bytes() for p in k8s.rglob("*") if p.is_file()}
    (k8s / "models.yaml").write_text("models: [BAAI/bge-small-en-v1.5, ../../etc]\n")
    assert main(["--k8s", str(k8s)]) == 2
    assert "error: model '../../etc'" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in k8s.rglob("*") if p.is_file()}
    assert after.keys() == before.keys()
    assert all(after[p] == before[p] for p in before if p.name != "models.yaml")
