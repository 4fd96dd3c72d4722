"""docs/deploy.md: the files it sends an operator to exist, and its commands name them right."""

from __future__ import annotations

import re

import pytest

from tests.deploy.settings import SETTINGS, required_variables
from tests.deploy.tools import REPO, load_yaml

pytestmark = pytest.mark.unit

DOCS = REPO / "docs" / "deploy.md"


def mentioned_paths(text: str) -> set[str]:
    """Repository paths the guide mentions (deploy/…, docs/…, tests/…, top-level files).
    A path has a file name or a second directory: `deploy/gateway` is kubectl's
    Deployment, not a path."""
    pattern = r"(?<![\w/.-])((?:deploy|docs|tests)/[\w./-]+|compose\.yaml|Dockerfile)"
    found = {match.rstrip(".") for match in re.findall(pattern, text)}
    return {p for p in found if "." in p or p.count("/") >= 2 or "/" not in p}


def test_every_path_in_the_guide_exists() -> None:
    paths = mentioned_paths(DOCS.read_text())
    assert "deploy/helm/nats.values.yaml" in paths
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert missing == []


def test_helm_installs_in_the_guide_match_the_values_files() -> None:
    text = DOCS.read_text()
    guide = set(re.findall(r"helm install \S+ \S+ -n semantik --version \S+ -f \S+", text))
    files = {
        match
        for path in (REPO / "deploy" / "helm").glob("*.values.yaml")
        for match in re.findall(
            r"helm install \S+ \S+ -n semantik --version \S+ -f \S+", path.read_text()
        )
    }
    assert files and guide == files


def test_the_guide_names_the_consumer_and_stream_the_scaledobject_reads() -> None:
    keda = load_yaml(REPO / "deploy/k8s/components/keda/embedder-scaledobject.yaml")
    metadata = keda["spec"]["triggers"][0]["metadata"]
    text = DOCS.read_text()
    assert f"`{metadata['consumer']}`" in text and f"`{metadata['stream']}`" in text


def test_path_extraction() -> None:
    text = (
        "see `deploy/helm/nats.values.yaml`, docs/deploy.md. and compose.yaml, deploy/k8s/; "
        "not x/deploy/y nor kubectl exec deploy/gateway"
    )
    assert mentioned_paths(text) == {
        "deploy/helm/nats.values.yaml",
        "docs/deploy.md",
        "compose.yaml",
        "deploy/k8s/",
    }


def test_the_guide_names_every_setting_a_deployment_must_set() -> None:
    text = DOCS.read_text()
    for service in SETTINGS:
        for field, names in required_variables(service).items():
            assert any(f"`{name}" in text for name in names), (service, field)
