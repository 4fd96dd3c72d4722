"""The SSRF guard of webhooks (SPEC §13): a webhook's URL may only reach public hosts.

A URL is checked twice. When a webhook is created, its shape (``check_url_shape``) and
what its host resolves to (``check_url_target``): a 422 names the reason. When it is
delivered, every TCP connection of ``guarded_client`` (the first request and each
redirect hop) resolves the host, checks every address by the same rule and connects to
the address it checked. So a name that resolves to a public address at creation and to
a private one later (DNS rebinding), a redirect to ``http://127.0.0.1/``, and spellings
such as ``http://2130706433/`` or ``http://0x7f.1/`` (which the resolver reads as
127.0.0.1) are refused alike: the rule judges resolved addresses, never strings.

``SEMANTIK_WEBHOOK_ALLOW_PRIVATE`` turns the address rule off (a receiver on the same
machine or network); the shape rule always holds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``host, port`` → the addresses to try, in order.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
#: An address → why it may not be reached, or None.
Rule = Callable[[IPAddress], str | None]

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 3
#: How long resolving a host may take when a webhook is created.
RESOLVE_SECONDS = 5.0
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SHARED = ipaddress.IPv4Network("100.64.0.0/10")
ALLOW_HINT = "set SEMANTIK_WEBHOOK_ALLOW_PRIVATE=true to allow private targets"


class UnsafeUrl(ValueError):
    """A webhook URL that may not be used; the message says why, for a 422 or a log line."""


def check_url_shape(url: str) -> str:
    """The URL, normalised, if its scheme is http or https, it names a host and carries
    no credentials; ``UnsafeUrl`` otherwise. Parsed as the delivering client parses it,
    so the check and the request cannot read it differently."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parsed.scheme not in SCHEMES:
        raise UnsafeUrl(f"the URL's scheme must be http or https, not {parsed.scheme!r}")
    if not parsed.host:
        raise UnsafeUrl("the URL names no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UnsafeUrl(f"the URL's port {parsed.port} is not between 1 and 65535")
    if parsed.userinfo:
        raise UnsafeUrl("the URL may not carry credentials (user:password@); sign with the secret")
    return str(parsed.copy_with(fragment=None))


async def check_url_target(url: str, *, allow_private: bool) -> None:
    """Resolve the URL's host (off the event loop): every address it resolves to must be
    a global unicast one unless ``allow_private``; ``UnsafeUrl`` says which is not."""
    parsed = httpx.URL(check_url_shape(url))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            addresses = await resolve(parsed.host, port)
    except (OSError, TimeoutError) as exc:
        raise UnsafeUrl(f"the URL's host {parsed.host!r} does not resolve: {exc}") from None
    if not allow_private:
        judge(parsed.host, addresses, refusal)


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not connect to this address (None: it may): anything but a
    global unicast address, judged on the IPv4 address an IPv6 one carries (mapped or
    NAT64) too."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    kinds = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        (
            "shared (carrier-grade NAT)",
            isinstance(address, ipaddress.IPv4Address) and address in SHARED,
        ),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    for kind, applies in kinds:
        if applies:
            return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
    return None


def judge(host: str, addresses: Iterable[IPAddress], rule: Rule) -> None:
    """Refuse the host if the rule refuses any of its addresses."""
    for address in addresses:
        reason = rule(address)
        if reason is not None:
            raise UnsafeUrl(
                f"the URL's host {host!r} resolves to {address}, {reason}; {ALLOW_HINT}"
            )


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, as the system resolver gives them (``getaddrinfo``, on a
    thread of the loop's executor); an address literal in any spelling it accepts."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise OSError(f"no address for {host!r}")
    return found


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but each TCP connection goes to an address that was
    resolved and checked just now, never to a name resolved again afterwards. TLS still
    uses the URL's host name (httpcore passes it for SNI and certificate checks)."""

    def __init__(self, rule: Rule | None, resolver: Resolver = resolve) -> None:
        self.rule = rule
        self.resolver = resolver
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolver(host, port)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        if self.rule is not None:
            judge(host, addresses, self.rule)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolvers return at least one address
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeUrl("webhooks are delivered over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a ``GuardedBackend``; no proxy from the environment (a
    proxy would make the connections the guard cannot see)."""

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=backend,
            max_connections=20,
            max_keepalive_connections=10,
        )


def client_over(backend: GuardedBackend, timeout: float) -> httpx.AsyncClient:
    """An httpx client whose connections all go through ``backend``."""
    return httpx.AsyncClient(
        transport=GuardedTransport(backend),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )


def guarded_client(*, allow_private: bool, timeout: float) -> httpx.AsyncClient:
    """An httpx client for deliveries: every connection (first request and each of at
    most three redirects) is checked by ``refusal`` unless ``allow_private``, and raises
    ``UnsafeUrl`` when refused."""
    return client_over(GuardedBackend(None if allow_private else refusal), timeout)
