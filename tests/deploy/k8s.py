"""What the Kubernetes tests share: the rendered overlays and checks of their objects."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import cloudcoil.models.keda.v1alpha1 as keda
import kubernetes_validate
import pydantic

from tests.deploy.tools import K8S, load_yaml_all, run, tool

OVERLAYS = ("cpu", "gpu")
#: The oldest Kubernetes minor still in common support, and the newest schemas shipped.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
SECRET_NAME = "semantik-secrets"
SECRET_KEYS = {
    "DATABASE_URL",
    "JWT_SECRET",
    "QDRANT_API_KEY",
    "METRICS_TOKEN",
    "SEMANTIK_METRICS_TOKEN",
}
NAMESPACE = "semantik"


def render_tree(k8s: Path, overlay: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize` (kustomize built in) of one overlay of a deploy/k8s tree."""
    result = run([tool("kubectl"), "kustomize", str(k8s / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return tuple(load_yaml_all(result.stdout))


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """One overlay of the committed deploy/k8s."""
    return render_tree(K8S, overlay)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def service_of(deployment: dict[str, Any]) -> str:
    """The service a Deployment runs, from its component label: `embedder` for the
    default model's embedder and for each model's of components/models alike."""
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return str(labels["app.kubernetes.io/component"])


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]  # type: ignore[no-any-return]


def validation_errors(document: dict[str, Any]) -> list[str]:
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            errors.append(
                f"{document['kind']}/{document['metadata']['name']} "
                f"(Kubernetes {version}) {path}: {error.message}"
            )
    return errors


def is_keda(document: dict[str, Any]) -> bool:
    return str(document["apiVersion"]).startswith("keda.sh/")


def keda_schema_errors(document: dict[str, Any]) -> list[str]:
    """A KEDA object against KEDA's CRD schema. kubernetes-validate ships the schemas of
    the built-in API groups only; cloudcoil-models-keda has pydantic models generated
    from KEDA's CRDs. Unknown fields are ignored by the models, so a field that does not
    survive the round trip is one the schema lacks (a typo)."""
    kinds = {"ScaledObject": keda.ScaledObject, "TriggerAuthentication": keda.TriggerAuthentication}
    try:
        model = kinds[document["kind"]].model_validate(document)
    except pydantic.ValidationError as error:
        return [f"{e['loc']}: {e['msg']}" for e in error.errors()]
    kept = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [] if kept == document else [f"fields unknown to KEDA: {unknown(document, kept)}"]


def unknown(document: Any, kept: Any, path: str = "") -> list[str]:
    """Paths present in ``document`` and missing from ``kept``."""
    if isinstance(document, list) and isinstance(kept, list):
        document, kept = dict(enumerate(document)), dict(enumerate(kept))
    if not (isinstance(document, dict) and isinstance(kept, dict)):
        return []
    found = []
    for key, value in document.items():
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        found += [where] if key not in kept else unknown(value, kept[key], where)
    return found
