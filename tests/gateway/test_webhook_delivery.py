"""Webhook delivery (SPEC §13) over the real gateway, collections and ingest services
(``served.py``) to a real HTTP receiver on loopback (``SEMANTIK_WEBHOOK_ALLOW_PRIVATE``):
failed deliveries are retried and arrive in order, each signed; a revoke stops them; a
webhook failing too long is deactivated and resumes where it stopped once activated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from semantik.bench_webhooks import Arrival, Receiver
from tests.waiting import eventually

from .edges import bearer, new_collection, sign_in
from .served import ServedGateway, served_gateway

pytestmark = [pytest.mark.integration]

#: Retries come quickly here: the backoff's base and cap (seconds).
FAST_RETRIES = {
    "webhook_allow_private": True,
    "webhook_retry_base_seconds": 0.05,
    "webhook_retry_max_seconds": 0.2,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    with served_gateway(tmp_path_factory.mktemp("webhooks"), **FAST_RETRIES) as gateway:
        yield gateway


async def user(client: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    """A signed-in user: their id and bearer header."""
    headers = bearer((await sign_in(client, name))["access_token"])
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    return str(me["id"]), headers


async def webhook(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **fields: Any
) -> dict[str, Any]:
    made = await client.post("/api/v2/webhooks", json={"url": url, **fields}, headers=headers)
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def rename(client: httpx.AsyncClient, headers: dict[str, str], cid: str, text: str) -> None:
    """One ``CollectionUpdated`` event of ``cid`` whose description is ``text``."""
    patched = await client.patch(
        f"/api/v2/collections/{cid}", json={"description": text}, headers=headers
    )
    assert patched.status_code == 200, patched.text


async def deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], hook_id: str
) -> list[dict[str, Any]]:
    listed = await client.get(f"/api/v2/webhooks/{hook_id}/deliveries", headers=headers)
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = listed.json()
    return found


def first_arrivals(arrivals: list[Arrival]) -> list[Arrival]:
    """Each event's first arrival, in arrival order."""
    seen: set[str] = set()
    firsts = []
    for arrival in arrivals:
        if arrival.headers["webhook-id"] not in seen:
            seen.add(arrival.headers["webhook-id"])
            firsts.append(arrival)
    return firsts


async def test_failed_deliveries_are_retried_and_arrive_in_order_signed(
    client: httpx.AsyncClient,
) -> None:
    _, headers = await user(client, "wendy")
    first = await new_collection(client, headers, "hooked-one")
    second = await new_collection(client, headers, "hooked-two")
    async with Receiver(answer=lambda n: 500 if n < 2 else 200) as receiver:
        hook = await webhook(
            client,
            headers,
            receiver.url,
            events=["CollectionUpdated"],
            collection_ids=[first, second],
        )
        for n in range(3):
            await rename(client, headers, first, f"one-{n}")
            await rename(client, headers, second, f"two-{n}")
        await receiver.wait_for(lambda arrived: len(first_arrivals(arrived)) == 6, 30)
        await eventually(lambda: _all_delivered(client, headers, hook["id"], 6))

    arrivals = receiver.arrivals
    verify = Webhook(hook["secret"])
    for arrival in arrivals:
        body = verify.verify(arrival.body, arrival.headers)
        assert arrival.headers["webhook-id"] == body["id"]
        assert body["type"] == "CollectionUpdated" and body["collection_id"] in (first, second)
        assert arrival.headers["user-agent"] == "Semantik-Webhooks/1"
    # The first event failed twice and came a third time; nothing overtook it meanwhile.
    assert len({a.headers["webhook-id"] for a in arrivals[:3]}) == 1, arrivals[:3]
    order = [a.json()["data"]["description"] for a in first_arrivals(arrivals)]
    assert order == ["one-0", "two-0", "one-1", "two-1", "one-2", "two-2"]
    assert len(arrivals) == 8
    log = await deliveries(client, headers, hook["id"])
    assert [d["status"] for d in log] == ["delivered"] * 6
    assert [d["event_id"] for d in reversed(log)] == [
        a.headers["webhook-id"] for a in first_arrivals(arrivals)
    ]
    assert [d["attempts"] for d in reversed(log)] == [3, 1, 1, 1, 1, 1]
    assert {d["last_status_code"] for d in log} == {200}
    assert all(d["delivered_at"] for d in log)
    limited = await client.get(
        f"/api/v2/webhooks/{hook['id']}/deliveries", params={"limit": 2}, headers=headers
    )
    assert [d["event_id"] for d in limited.json()] == [d["event_id"] for d in log[:2]]
    shown = (await client.get(f"/api/v2/webhooks/{hook['id']}", headers=headers)).json()
    assert shown["active"] is True and shown["failing_since"] is None
    assert shown["last_delivery_at"] is not None


async def _all_delivered(
    client: httpx.AsyncClient, headers: dict[str, str], hook_id: str, count: int
) -> bool:
    log = await deliveries(client, headers, hook_id)
    return len(log) == count and all(d["status"] == "delivered" for d in log)


async def test_the_delivery_log_is_its_owners_alone(client: httpx.AsyncClient) -> None:
    _, owner = await user(client, "hilda")
    _, other = await user(client, "ivan")
    hook = await webhook(client, owner, "http://127.0.0.1:9/hook", events=["*"])
    base = f"/api/v2/webhooks/{hook['id']}/deliveries"
    for path, headers, status in (
        (base, other, 404),
        (base, {}, 401),
        ("/api/v2/webhooks/not-a-uuid/deliveries", owner, 422),
        ("/api/v2/webhooks/00000000-0000-0000-0000-000000000000/deliveries", owner, 404),
        (f"{base}?limit=0", owner, 422),
        (f"{base}?limit=501", owner, 422),
    ):
        reply = await client.get(path, headers=headers)
        assert reply.status_code == status, (path, reply.text)
        assert reply.json()["detail"]
    assert (await client.get(base, headers=owner)).json() == []


async def test_a_revoke_stops_the_deliveries_at_once(client: httpx.AsyncClient) -> None:
    _, olga = await user(client, "olga")
    rita_id, rita = await user(client, "rita")
    shared = await new_collection(client, olga, "shared-then-not")
    access = f"/api/v2/collections/{shared}/access/user/{rita_id}"
    assert (await client.put(access, json={"role": "viewer"}, headers=olga)).status_code == 200
    async with Receiver() as receiver:
        hook = await webhook(
            client, rita, receiver.url, events=["CollectionUpdated"], collection_ids=[shared]
        )
        await rename(client, olga, shared, "seen by rita")
        await receiver.wait_for(lambda arrived: len(arrived) == 1, 30)
        assert (await client.delete(access, headers=olga)).status_code == 204
        await rename(client, olga, shared, "hidden one")
        await rename(client, olga, shared, "hidden two")

        async def skipped() -> list[dict[str, Any]]:
            log = await deliveries(client, rita, hook["id"])
            return log if [d["status"] for d in log] == ["skipped", "skipped", "delivered"] else []

        log = await eventually(skipped)
        assert [a.json()["data"]["description"] for a in receiver.arrivals] == ["seen by rita"]
    assert all(d["attempts"] == 0 and d["last_status_code"] is None for d in log[:2])


async def test_a_webhook_failing_too_long_is_deactivated_and_resumes_when_activated(
    tmp_path: Path,
) -> None:
    answer = {"status": 500}
    settings = {**FAST_RETRIES, "webhook_disable_after_hours": 0.0005}  # 1.8 s
    with served_gateway(tmp_path, **settings) as gateway:
        async with (
            Receiver(answer=lambda _: answer["status"]) as receiver,
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as client,
        ):
            client.headers["X-Test-Roots"] = str(gateway.roots)
            client.headers["X-Test-Secrets"] = str(gateway.gateway_data / "secrets")
            _, headers = await user(client, "fay")
            cid = await new_collection(client, headers, "unreachable")
            hook = await webhook(client, headers, receiver.url, events=["CollectionUpdated"])
            url = f"/api/v2/webhooks/{hook['id']}"
            await rename(client, headers, cid, "never arrives")

            async def deactivated() -> dict[str, Any] | None:
                shown: dict[str, Any] = (await client.get(url, headers=headers)).json()
                return shown if not shown["active"] else None

            shown = await eventually(deactivated)
            reason = shown["deactivated_reason"]
            assert reason.startswith("failing since ") and "(last: HTTP 500)" in reason, reason
            log = await eventually(lambda: _logged(client, headers, hook["id"], "failed"))
            assert log[0]["last_status_code"] == 500 and log[0]["attempts"] >= 2
            tried = len(receiver.arrivals)
            assert tried >= 2

            # The consumer stayed: activated again, the same event is delivered.
            answer["status"] = 200
            patched = await client.patch(url, json={"active": True}, headers=headers)
            assert patched.status_code == 200 and patched.json()["deactivated_reason"] is None
            await receiver.wait_for(lambda arrived: len(arrived) > tried, 30)
            await eventually(lambda: _logged(client, headers, hook["id"], "delivered"))
            ids = {a.headers["webhook-id"] for a in receiver.arrivals}
            assert len(ids) == 1
            assert receiver.arrivals[-1].json()["data"]["description"] == "never arrives"


async def _logged(
    client: httpx.AsyncClient, headers: dict[str, str], hook_id: str, status: str
) -> list[dict[str, Any]]:
    log = await deliveries(client, headers, hook_id)
    return log if log and log[0]["status"] == status else []
