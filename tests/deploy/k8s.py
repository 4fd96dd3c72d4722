"""What the Kubernetes tests share: the rendered overlays and checks of their objects."""

from __future__ import annotations

import functools
from typing import Any

import kubernetes_validate

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


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize` (kustomize built in) of one overlay."""
    result = run([tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return tuple(load_yaml_all(result.stdout))


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


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
