"""The webhooks' SSRF guard (``webhook_guard``): URL shapes, resolved addresses, and a
real local HTTP server that the guarded client must not reach, first hop or redirect."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from gateway_service.webhook_guard import (
    GuardedBackend,
    IPAddress,
    UnsafeUrl,
    check_url_shape,
    check_url_target,
    client_over,
    guarded_client,
    refusal,
)

pytestmark = [pytest.mark.unit, pytest.mark.reliability]

#: Addresses a webhook may never reach, each with the kind the refusal names.
REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "169.254.169.254": "link-local",
    "169.254.0.1": "link-local",
    "fe80::1": "link-local",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::7f00:1": "loopback",  # NAT64 of 127.0.0.1
    "fec0::1": "site-local",
    "192.0.2.1": "private",  # documentation
}
#: URLs whose host resolves (without any network) to a refused address.
ATTACKS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/",  # hexadecimal
    "http://0x7f000001/",
    "http://017700000001/",  # octal
    "http://0177.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://localhost/",
    "http://LOCALHOST:8080/",
]


def test_every_non_global_address_is_refused_with_its_kind() -> None:
    for text, kind in REFUSED.items():
        reason = refusal(ipaddress.ip_address(text))
        assert reason is not None and kind in reason, (text, reason)
    for public in ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert refusal(ipaddress.ip_address(public)) is None, public


def test_url_shapes_are_checked_and_normalised() -> None:
    assert (
        check_url_shape("HTTPS://Hooks.Example.ORG/a?b=1#frag") == "https://hooks.example.org/a?b=1"
    )
    refused = {
        "ftp://hooks.example.org/": "scheme",
        "file:///etc/passwd": "scheme",
        "gopher://hooks.example.org/": "scheme",
        "javascript:alert(1)": "scheme",
        "hooks.example.org/path": "scheme",
        "http:///path": "no host",
        "http://user:pass@hooks.example.org/": "credentials",
        "http://user@hooks.example.org/": "credentials",
        "http://hooks.example.org:99999/": "port",
        "http://hooks.example.org:0/": "port",
        "http://[::1/": "valid URL",
        "http://" + "a" * 3000 + ".org/": "longer than",
    }
    for url, words in refused.items():
        with pytest.raises(UnsafeUrl, match=words):
            check_url_shape(url)


async def test_hosts_are_judged_by_what_they_resolve_to() -> None:
    for url in ATTACKS:
        with pytest.raises(UnsafeUrl) as refused:
            await check_url_target(url, allow_private=False)
        message = str(refused.value)
        # httpx itself refuses a few spellings (``0177.0.0.1``); the rest resolve.
        assert "SEMANTIK_WEBHOOK_ALLOW_PRIVATE" in message or "not a valid URL" in message, url
    await check_url_target("http://localhost/", allow_private=True)
    await check_url_target("http://93.184.215.14/hook", allow_private=False)
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        await check_url_target("http://no-such-host.invalid/", allow_private=True)


@dataclass
class Receiver:
    """A real HTTP/1.1 server on a loopback address: answers each request with
    ``answer`` (status and extra headers) and keeps the requests' heads."""

    host: str
    answer: tuple[int, dict[str, str]] = (200, {})
    heads: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = next(
                (
                    int(line.split(":", 1)[1])
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            self.heads.append(head)
            status, headers = self.answer
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\n{extra}\r\nok".encode())
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver]]:
    """One receiver on 127.0.0.1 and one on 127.0.0.2 (both loopback on Linux)."""
    first, second = Receiver("127.0.0.1"), Receiver("127.0.0.2")
    servers = []
    for receiver in (first, second):
        server = await asyncio.start_server(receiver.handle, receiver.host, 0)
        receiver.port = server.sockets[0].getsockname()[1]
        servers.append(server)
    yield first, second
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_the_guarded_client_refuses_a_loopback_receiver_before_connecting(
    receivers: tuple[Receiver, Receiver],
) -> None:
    receiver, _ = receivers
    async with guarded_client(allow_private=False, timeout=5) as client:
        for host in ("127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"):
            with pytest.raises(UnsafeUrl, match="loopback"):
                await client.post(f"http://{host}:{receiver.port}/hook", json={"a": 1})
    assert receiver.heads == []  # nothing reached it
    async with guarded_client(allow_private=True, timeout=5) as client:
        reply = await client.post(f"http://127.0.0.1:{receiver.port}/hook", json={"a": 1})
    assert reply.status_code == 200 and len(receiver.heads) == 1


async def test_a_redirect_to_a_refused_address_is_not_followed(
    receivers: tuple[Receiver, Receiver],
) -> None:
    """The first hop is allowed (a rule that admits 127.0.0.1 alone, standing in for a
    public receiver); its 302 to 127.0.0.2 is refused when the hop connects."""
    public, inner = receivers
    public.answer = (302, {"location": f"http://127.0.0.2:{inner.port}/admin"})

    def only_the_first(address: IPAddress) -> str | None:
        return None if str(address) == "127.0.0.1" else refusal(address)

    async with client_over(GuardedBackend(only_the_first), timeout=5) as client:
        with pytest.raises(UnsafeUrl, match=r"127\.0\.0\.2, a loopback address"):
            await client.post(f"http://127.0.0.1:{public.port}/hook", json={})
    assert len(public.heads) == 1 and inner.heads == []


async def test_redirects_are_followed_at_most_three_times(
    receivers: tuple[Receiver, Receiver],
) -> None:
    looping, _ = receivers
    looping.answer = (307, {"location": "/again"})
    async with guarded_client(allow_private=True, timeout=5) as client:
        with pytest.raises(httpx.TooManyRedirects):
            await client.post(f"http://127.0.0.1:{looping.port}/hook", json={})
    assert len(looping.heads) == 4  # the request and three redirects


async def test_the_client_connects_to_the_address_it_checked_under_the_host_name(
    receivers: tuple[Receiver, Receiver],
) -> None:
    """Resolved once, checked, then connected to that address: the request still names
    the host (and TLS would use it for SNI). A name with one refused address among
    public ones is refused whole."""
    receiver, _ = receivers
    lookups: list[str] = []

    async def pinned(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    async with client_over(GuardedBackend(None, pinned), timeout=5) as client:
        reply = await client.post(f"http://hooks.example.test:{receiver.port}/x", json={})
    assert reply.status_code == 200 and lookups == ["hooks.example.test"]
    assert f"host: hooks.example.test:{receiver.port}" in receiver.heads[0].lower()

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]

    async with client_over(GuardedBackend(refusal, rebinding), timeout=5) as client:
        with pytest.raises(UnsafeUrl, match=r"127\.0\.0\.1, a loopback address"):
            await client.post(f"http://hooks.example.test:{receiver.port}/x", json={})
    assert len(receiver.heads) == 1
