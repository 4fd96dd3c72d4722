"""What each service reads from its environment, taken from its code and settings class.

The deployment tests check compose.yaml and deploy/k8s against this rather than against
a list of their own: a service that starts reading QDRANT_URL, or a setting renamed in
its class, shows up here without anyone editing the tests.
"""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache

from pydantic import AliasChoices
from semantik_runtime.settings import ServiceSettings

from tests.deploy.tools import REPO, SERVICES


def _settings_class(service: str) -> type[ServiceSettings]:
    """The settings class the service's composition root (``__main__``) instantiates."""
    main = REPO / "services" / service / f"{service}_service" / "__main__.py"
    match = re.search(r"\bsettings = (\w+)\(\)", main.read_text())
    assert match, f"{main} builds no settings object"
    for module in (f"{service}_service.config", "semantik_runtime.settings"):
        found = getattr(importlib.import_module(module), match.group(1), None)
        if isinstance(found, type) and issubclass(found, ServiceSettings):
            return found
    raise AssertionError(f"{service}: {match.group(1)} is no ServiceSettings class")


SETTINGS: dict[str, type[ServiceSettings]] = {s: _settings_class(s) for s in SERVICES}

#: Settings whose defaults only work with everything on one machine (127.0.0.1, SQLite
#: files and Qdrant Edge in the data dir, no health port): a deployment must set each one
#: that a service reads.
DEPLOYMENT_SETTINGS = {
    "nats_url",
    "database_url",
    "qdrant_url",
    "data_dir",
    "health_port",
    "host",
    "port",
    "source_roots_value",
    # <data dir>/models by default: each container's own volume, so the collections
    # service (which checks model names) and the embedders would see different models.
    "models_dir",
}

#: Variables read by libraries rather than by a settings class (set by the image, too).
LIBRARY_VARIABLES = {
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "TOKENIZERS_PARALLELISM",
}


def env_names(cls: type[ServiceSettings], field: str) -> set[str]:
    """The environment variables that set one field."""
    alias = cls.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return {str(choice) for choice in alias.choices if str(choice).isupper()}
    return {str(alias)} if alias else {field.upper()}


def known_variables(cls: type[ServiceSettings]) -> set[str]:
    return {name for field in cls.model_fields for name in env_names(cls, field)}


def _package_source(service: str) -> str:
    package = REPO / "services" / service / f"{service}_service"
    return "\n".join(path.read_text() for path in sorted(package.rglob("*.py")))


def _fields_behind(cls: type[ServiceSettings], attribute: str) -> set[str]:
    """A field, or the fields a property of the class reads (``source_roots``)."""
    if attribute in cls.model_fields:
        return {attribute}
    member = getattr(cls, attribute, None)
    if isinstance(member, property) and member.fget is not None:
        used = set(re.findall(r"self\.(\w+)", inspect.getsource(member.fget)))
        return {name for name in used if name in cls.model_fields}
    return set()


@cache
def fields_read(service: str) -> frozenset[str]:
    """Every setting the service's code reads (``settings.<name>``)."""
    cls = SETTINGS[service]
    source = _package_source(service)
    fields: set[str] = set()
    for attribute in set(re.findall(r"\bsettings\.(\w+)", source)):
        fields |= _fields_behind(cls, attribute)
    # The runtime's serve_until_stopped opens the health endpoint on settings.health_port.
    if "serve_until_stopped(" in source:
        fields.add("health_port")
    return frozenset(fields)


def required_variables(service: str) -> dict[str, set[str]]:
    """Field → the variables that can set it, for every deployment setting it reads."""
    cls = SETTINGS[service]
    return {
        field: env_names(cls, field) for field in sorted(fields_read(service) & DEPLOYMENT_SETTINGS)
    }


def missing_variables(service: str, env: dict[str, str]) -> list[str]:
    """The deployment settings ``service`` reads that ``env`` leaves unset or empty."""
    return [
        f"{service}: {field} ({' or '.join(sorted(names))})"
        for field, names in required_variables(service).items()
        if not any(env.get(name) for name in names)
    ]


def unknown_variables(service: str, env: dict[str, str]) -> list[str]:
    """Variables given to ``service`` that neither its settings nor a library read: typos."""
    known = known_variables(SETTINGS[service]) | LIBRARY_VARIABLES
    return [f"{service}: {name}" for name in sorted(set(env) - known)]


def load_settings(service: str, env: dict[str, str]) -> ServiceSettings:
    """The service's settings as its composition root would build them from ``env``."""
    cls = SETTINGS[service]
    values = {
        field: next(env[name] for name in names if name in env)
        for field in cls.model_fields
        if (names := env_names(cls, field)) & set(env)
    }
    return cls.model_validate(values)


#: Services whose event store is PostgreSQL (DATABASE_URL).
DATABASE_USERS = frozenset(s for s in SETTINGS if "database_url" in fields_read(s))
#: Services that talk to the Qdrant server (QDRANT_URL).
QDRANT_USERS = frozenset(s for s in SETTINGS if "qdrant_url" in fields_read(s))
