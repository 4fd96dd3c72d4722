"""Prometheus and Grafana of `docker compose --profile monitoring`: every service scraped,
the provisioned dashboard wired to the provisioned datasource, and every metric the
dashboard plots exported by something Prometheus scrapes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from semantik_runtime import metrics

from tests.deploy.test_compose import mounts
from tests.deploy.tools import (
    COMPOSE_FILE,
    GATEWAY_PORT,
    HEALTH_PORT,
    REPO,
    SERVICES,
    load_yaml,
)

pytestmark = pytest.mark.unit

PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
DASHBOARD = PROVISIONING / "dashboards" / "semantik.json"
#: PromQL words that are not metric names.
PROMQL = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile",
    "by", "without", "on", "ignoring", "and", "or", "unless", "le", "up",
}  # fmt: skip


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return load_yaml(COMPOSE_FILE)["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def scrape_jobs(services: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    prometheus = services["prometheus"]
    config = load_yaml(REPO / mounts(prometheus)["/etc/prometheus/prometheus.yml"])
    return config["scrape_configs"]  # type: ignore[no-any-return]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers and strings removed)."""
    bare = re.sub(r'"[^"]*"', "", expression)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {w for w in words if w not in PROMQL and not re.fullmatch(r"[0-9e.]+", w)}


def semantik_exported() -> set[str]:
    """Series names the Semantik processes export (semantik_runtime.metrics)."""
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, prometheus_client.metrics.MetricWrapperBase):
            for family in value.describe():
                suffixes = {
                    "counter": ("_total",),
                    "histogram": ("_bucket", "_count", "_sum"),
                }.get(family.type, ("",))
                names |= {family.name + suffix for suffix in suffixes}
    return names


def scrape_targets(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """host:port → metrics path, from static targets and DNS discovery (one name each)."""
    targets = {}
    for job in scrape_jobs(services):
        path = job.get("metrics_path", "/metrics")
        for static in job.get("static_configs", []):
            targets |= dict.fromkeys(static["targets"], path)
        for dns in job.get("dns_sd_configs", []):
            assert dns["type"] == "A"
            targets |= {f"{name}:{dns['port']}": path for name in dns["names"]}
    return targets


def test_prometheus_scrapes_every_service_on_its_metrics_port(
    services: dict[str, dict[str, Any]],
) -> None:
    targets = scrape_targets(services)
    expected = {f"{name}:{HEALTH_PORT}" for name in SERVICES if name != "gateway"}
    expected |= {f"gateway:{GATEWAY_PORT}", f"embedder-gpu:{HEALTH_PORT}"}
    assert expected <= set(targets)
    assert {targets[t] for t in expected} == {"/metrics"}
    for target in targets:
        assert target.split(":")[0] in services, target
    # Replicas (`--scale embedder=3`) are each a target only through DNS discovery.
    discovered = {
        name for job in scrape_jobs(services) for dns in job.get("dns_sd_configs", [])
        for name in dns["names"]
    }  # fmt: skip
    assert set(SERVICES) <= discovered


def test_grafana_provisions_the_datasource_and_dashboard(
    services: dict[str, dict[str, Any]], dashboard: dict[str, Any]
) -> None:
    grafana = services["grafana"]
    assert grafana["profiles"] == ["monitoring"]
    mounted = mounts(grafana)
    assert REPO / mounted["/etc/grafana/provisioning"] == PROVISIONING
    (datasource,) = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "semantik.yml")["providers"]
    in_container = Path(provider["options"]["path"])
    assert PROVISIONING / in_container.relative_to("/etc/grafana/provisioning") == DASHBOARD.parent
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_dashboard_covers_operations_throughput_lag_and_search(dashboard: dict[str, Any]) -> None:
    rows = {p["title"] for p in dashboard["panels"] if p["type"] == "row"}
    assert {"Operations", "Throughput", "Consumer lag (JetStream)", "Search"} <= rows
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] and dashboard["title"] == "Semantik"


def test_every_plotted_metric_is_exported_by_a_scraped_target(
    services: dict[str, dict[str, Any]], dashboard: dict[str, Any]
) -> None:
    exported = semantik_exported()
    assert "semantik_operations_total" in exported  # the derivation itself works
    # prometheus-nats-exporter with -jsz and -prefix=nats (as in the NATS Helm chart).
    exporter = " ".join(services["nats-exporter"]["command"])
    assert "-jsz=all" in exporter and "-prefix=nats" in exporter
    assert "nats-exporter:7777" in scrape_targets(services)
    for panel in panels(dashboard):
        for target in panel["targets"]:
            for name in metric_names(target["expr"]):
                assert name in exported or name.startswith("nats_consumer_"), (
                    f"{panel['title']}: {name} is exported by nothing Prometheus scrapes"
                )


def test_the_guide_explains_every_plotted_metric(dashboard: dict[str, Any]) -> None:
    guide = (REPO / "docs" / "deploy.md").read_text()
    for panel in panels(dashboard):
        for target in panel["targets"]:
            for name in metric_names(target["expr"]):
                base = re.sub(r"_(bucket|count|sum)$", "", name)
                assert f"`{name}" in guide or f"`{base}" in guide, (panel["title"], name)


def test_metric_name_extraction() -> None:
    expression = (
        'histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{subject="x.y"}[5m])))'
        " / sum(max by (model) (b_pending))"
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b_pending"}


def test_prometheus_scrapes_the_gateway_with_its_metrics_token(
    services: dict[str, dict[str, Any]],
) -> None:
    """The gateway binds 0.0.0.0 here, so its /metrics wants SEMANTIK_METRICS_TOKEN: the
    same variable reaches the gateway and, as a secret file, Prometheus."""
    (gateway,) = [job for job in scrape_jobs(services) if job["job_name"] == "gateway"]
    credentials = gateway["authorization"]["credentials_file"]
    secret = credentials.removeprefix("/run/secrets/")
    assert secret in services["prometheus"]["secrets"]
    compose = load_yaml(COMPOSE_FILE)
    assert compose["secrets"][secret] == {"environment": "SEMANTIK_METRICS_TOKEN"}
    assert (
        "${SEMANTIK_METRICS_TOKEN" in services["gateway"]["environment"]["SEMANTIK_METRICS_TOKEN"]
    )
