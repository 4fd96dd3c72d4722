"""What the edge tests share (``test_reliability_edges``, ``test_cross_user``,
``test_access_control``): signing in on the served gateway, the app's routes and their
bodies, and how a refusal is checked."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from fastapi.routing import APIRoute, iter_route_contexts
from gateway_service.subscriptions import ClientMessage

from .served import ServedGateway

PASSWORD = "correct horse"
#: Path parameters that name one user's resource.
RESOURCE_PARAMS = {"collection_id", "operation_id", "source_id", "document_id"}


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Register ``username`` (or sign in again) with the source root granted to them by
    the operator account, as an admin would (SPEC §11: paths are a grant)."""
    account = {"username": username, "password": PASSWORD}
    registered = await client.post("/api/v1/auth/register", json=account)
    reply = await client.post("/api/v1/auth/login", json=account)
    assert reply.status_code == 200, reply.text
    pair: dict[str, str] = reply.json()
    if registered.status_code == 201:
        secrets = Path(client.headers["X-Test-Secrets"])
        operator = json.loads((secrets / "cli_credentials.json").read_text())
        admin = (await client.post("/api/v1/auth/login", json=operator)).json()
        me = (await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))).json()
        grant = {"path": client.headers["X-Test-Roots"], "user_id": me["id"]}
        granted = await client.post(
            "/api/v1/source-roots", json=grant, headers=bearer(admin["access_token"])
        )
        assert granted.status_code == 201, granted.text
    return pair


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def new_collection(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    reply = await client.post("/api/v2/collections", json={"name": name}, headers=headers)
    assert reply.status_code == 201, reply.text
    collection_id: str = reply.json()["id"]
    return collection_id


def refused(reply: httpx.Response, status: int, *words: str) -> None:
    """A 4xx of ``status`` whose message names each of ``words``."""
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    detail = json.dumps(reply.json()["detail"])
    for word in words:
        assert word in detail, (word, detail[:300])


async def nothing_added(client: httpx.AsyncClient, headers: dict[str, str], base: str) -> None:
    """No source and no operation in the collection: nothing was stored half-way."""
    assert (await client.get(f"{base}/sources", headers=headers)).json()["items"] == []
    assert (await client.get(f"{base}/operations", headers=headers)).json()["total"] == 0
    collection = (await client.get(base, headers=headers)).json()
    assert collection["status"] == "pending" and collection["document_count"] == 0


# -- bad input -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: frozenset[str]
    takes_body: bool


def endpoints(served: ServedGateway) -> list[Endpoint]:
    """Every HTTP route the app has (an included router's with its prefix), per method."""
    assert served.app is not None
    found = []
    for context in iter_route_contexts(served.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path and context.methods:
            params = frozenset(re.findall(r"{(\w+)}", context.path))
            body = bool(route.dependant.body_params)
            found += [Endpoint(m, context.path, params, body) for m in context.methods - {"HEAD"}]
    return found


def resource_routes(served: ServedGateway) -> list[Endpoint]:
    """The routes about one user's resource: a collection, operation or source id."""
    return [e for e in endpoints(served) if e.params & RESOURCE_PARAMS]


def body_for(template: str, folder: Path) -> Any:
    body = BODIES.get(template)
    if body is None:
        return None
    return json.loads(json.dumps(body).replace("{dir}", str(folder)))


OUTSIDE = "outside the source roots granted to you"
#: Path parameters that name no resource of a user: filled the same in every test.
PRINCIPAL = {
    "principal_type": "user",
    "principal_id": "0f4b5f58-4f7a-4f8e-9a52-3d1c2b0a9e77",
    "name": "wide",  # a column set's name
}


def fill(template: str, **ids: str) -> str:
    for name, value in {**PRINCIPAL, **ids}.items():
        template = template.replace(f"{{{name}}}", value)
    return template


BODIES: dict[str, Any] = {
    "/api/v2/collections/{collection_id}": {"name": "taken"},
    "/api/v2/collections/{collection_id}/sources": {"path": "{dir}"},
    "/api/v2/collections/{collection_id}/sources/preview": {"path": "{dir}"},
    "/api/v2/collections/{collection_id}/sources/{source_id}": {"text_columns": ["text"]},
    "/api/v2/collections/{collection_id}/sources/reembed": {
        "source_ids": ["5d0c8f5e-2b7a-4c1e-9f3a-6e8b7d4c2a10"],
        "text_columns": ["text"],
    },
    "/api/v2/collections/{collection_id}/column-sets": {"name": "wide", "text_columns": ["text"]},
    "/api/v2/collections/{collection_id}/documents": {"paths": ["{dir}"]},
    "/api/v2/collections/{collection_id}/operations/reindex": {},
    "/api/v2/collections/{collection_id}/search": {"query": "anything"},
    "/api/v2/collections/{collection_id}/access/{principal_type}/{principal_id}": {
        "role": "viewer"
    },
}
#: Subscriptions a WebSocket client can ask for, from the protocol's own schema.
SUBSCRIPTIONS = [
    kind.removeprefix("subscribe_")
    for kind in ClientMessage.json_schema()["discriminator"]["mapping"]
    if kind.startswith("subscribe_")
]


async def nothing_of(
    client: httpx.AsyncClient, routes: list[Endpoint], headers: dict[str, str], secrets: list[str]
) -> None:
    for endpoint in routes:
        if endpoint.method == "GET" and not endpoint.params:
            reply = await client.get(endpoint.path, headers=headers)
            leaked = [s for s in secrets if s in reply.text]
            assert not leaked, (endpoint.path, leaked)


def forged_tokens(
    served: ServedGateway, access: str, refresh: str, other_user: str
) -> dict[str, str]:
    """Tokens that must all be refused, made from a real one of a signed-in user."""
    secret = (served.data / "gateway" / "secrets" / "jwt_secret").read_text()
    claims = jwt.decode(access, options={"verify_signature": False})
    now = int(time.time())
    header, payload, signature = access.split(".")
    theirs = {**claims, "sub": other_user}
    swapped = base64.urlsafe_b64encode(json.dumps(theirs).encode()).rstrip(b"=").decode()
    return {
        "expired": jwt.encode({**claims, "iat": now - 120, "exp": now - 60}, secret, "HS256"),
        "alg none": jwt.encode({**claims}, None, algorithm="none"),
        "alg none, no dot": ".".join(jwt.encode(claims, None, algorithm="none").split(".")[:2]),
        "signed elsewhere": jwt.encode(claims, "k" * 64, "HS256"),
        "payload swapped": f"{header}.{swapped}.{signature}",
        "signature cut": f"{header}.{payload}.",
        "signature of another": f"{header}.{payload}.{refresh.split('.')[2]}",
        "refresh as access": refresh,
        "HS512 with the secret": jwt.encode(claims, secret, "HS512"),
        "garbage": "a.b.c",
    }
