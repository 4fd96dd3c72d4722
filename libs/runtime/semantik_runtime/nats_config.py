"""The NATS server's ``authorization`` block, rendered from the permission table of
``nats_auth``: for ``semantik run`` (``<data dir>/secrets/nats.conf``, real passwords)
and for the deployments (deploy/nats/nats.conf and the Helm values, each password a
variable the server resolves from its environment). Pure: it returns text and data.

``python -m semantik_runtime.nats_config`` prints the deployments' block.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .nats_auth import OPERATOR, SERVICE_USERS, SUBSCRIBER, USERS, permissions


def _quoted(values: Iterable[str], indent: str) -> str:
    """A list, one subject a line (the deployment's nats.conf is read by people)."""
    inner = "".join(f"{indent}  {json.dumps(v)}\n" for v in values)
    return f"[\n{inner}{indent}]"


def user_block(user: str, password: str) -> str:
    """One entry of ``authorization.users``. A ``password`` that starts with ``$`` is a
    variable the server resolves from its environment (the deployments' Secrets)."""
    rules = permissions(user)
    secret = password if password.startswith("$") else json.dumps(password)
    deep = " " * 10
    lines = [
        "    {",
        f"      user: {json.dumps(user)}",
        f"      password: {secret}",
        "      permissions: {",
        "        publish: {",
        f"          allow: {_quoted(rules.publish, deep)}",
    ]
    if rules.publish_deny:
        lines.append(f"          deny: {_quoted(rules.publish_deny, deep)}")
    lines += [
        "        }",
        f"        subscribe: {{allow: {_quoted(rules.subscribe, ' ' * 8)}}}",
    ]
    if rules.responds:
        lines.append("        allow_responses: true")
    lines += ["      }", "    }"]
    return "\n".join(lines)


def authorization(passwords: Mapping[str, str]) -> str:
    """The server's ``authorization`` block: every user of ``passwords``, nobody else
    (an anonymous client is refused)."""
    unknown = set(passwords) - set(USERS)
    if unknown:
        raise ValueError(f"unknown NATS users: {sorted(unknown)}")
    entries = "\n".join(user_block(user, passwords[user]) for user in USERS if user in passwords)
    return f"authorization {{\n  users = [\n{entries}\n  ]\n}}\n"


def password_variable(user: str) -> str:
    """The environment variable a deployment's server reads ``user``'s password from."""
    return "NATS_PASSWORD_" + user.upper().replace("-", "_")


#: The users of a deployment (compose, Kubernetes): the embedder and search run apart.
DEPLOYED_USERS = (*SERVICE_USERS, OPERATOR, SUBSCRIBER)


def deployment_authorization() -> str:
    """``authorization`` with each password read from ``password_variable(user)``: the
    block of deploy/nats/nats.conf and of the Helm values (no secret in the repo)."""
    return authorization({user: "$" + password_variable(user) for user in DEPLOYED_USERS})


def deployment_users() -> list[dict[str, Any]]:
    """The users of ``deployment_authorization`` as data (the NATS Helm chart's
    ``config.merge``, where ``<< $VAR >>`` is a variable the server resolves)."""
    users: list[dict[str, Any]] = []
    for user in DEPLOYED_USERS:
        rules = permissions(user)
        publish: dict[str, list[str]] = {"allow": list(rules.publish)}
        if rules.publish_deny:
            publish["deny"] = list(rules.publish_deny)
        granted: dict[str, Any] = {
            "publish": publish,
            "subscribe": {"allow": list(rules.subscribe)},
        }
        if rules.responds:
            granted["allow_responses"] = True
        users.append(
            {"user": user, "password": f"<< ${password_variable(user)} >>", "permissions": granted}
        )
    return users


if __name__ == "__main__":  # python -m semantik_runtime.nats_config > the block of nats.conf
    print(deployment_authorization(), end="")
