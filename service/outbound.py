"""Requests holdout makes to URLs others gave it (webhooks, LTI platform endpoints), safely.

A URL must be https (plain http only with HOLDOUT_OUTBOUND_ALLOW_HTTP, for development) and its
host must resolve only to public addresses: loopback, private, link-local (cloud metadata at
169.254.169.254), multicast, reserved and unspecified addresses are refused, in any spelling
(`0x7f000001`, `[::1]`, `::ffff:127.0.0.1`), since the check is made on the resolved address;
an IPv6 address that embeds an IPv4 address (IPv4-mapped or -compatible, NAT64 64:ff9b::/96
and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) is judged by that IPv4 address as well,
since a translator or tunnel on the way would deliver it there.
It is checked when the URL is registered and again at every request, which then connects to the
very address that was checked (no second lookup to race), follows no redirect and reads at most
MAX_RESPONSE_BYTES. Hosts in HOLDOUT_OUTBOUND_ALLOW_HOSTS skip the address check (tests, a
development LMS on 127.0.0.1).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import has_app_context

from service import config

MAX_RESPONSE_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 5.0


class OutboundRefused(OSError):
    """The URL may not be called; the message says why. (An OSError: like a host that does not
    answer, a try that did not reach anyone.)"""


class TooLarge(Exception):
    """The answer was larger than the caller takes."""


def require_allowed(urls: dict[str, str]) -> None:
    """At registration: a 422 problem naming each field whose URL holdout would not call."""
    from service.errors import Problem

    refused = {}
    for field, url in urls.items():
        try:
            check_url(url)
        except OutboundRefused as exc:
            refused[field] = [str(exc)]
    if refused:
        raise Problem(
            422,
            "Refused URL(s): " + "; ".join(f"{k}: {v[0]}" for k, v in refused.items()),
            errors=refused,
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP address to connect to


def _settings() -> tuple[tuple[str, ...], bool]:
    if not has_app_context():
        return (), False
    settings = config.of_app()
    return settings.outbound_allow_hosts, settings.outbound_allow_http


NAT64_PREFIXES = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # RFC 6052, the well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215, local-use translation
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d (RFC 4291, deprecated)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, and a translator or tunnel would reach:
    IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and
    64:ff9b:1::/48, the low 32 bits), 6to4 (2002::/16) and Teredo (2001::/32: its server and
    its client)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    compatible = ip in IPV4_COMPATIBLE and int(ip) > 1  # not :: or ::1, which are themselves
    if compatible or any(ip in net for net in NAT64_PREFIXES):
        found.append(low32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_public_address(address: str) -> bool:
    """Whether holdout may connect to this IP address: a global unicast address, and for an
    IPv6 address every IPv4 address it embeds too (the one rule for every outbound request)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    judged: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        judged.extend(embedded_ipv4(ip))
    return all(one.is_global and not one.is_multicast for one in judged)


def _described(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    inner = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else []
    shown = ", ".join(str(one) for one in inner if not (one.is_global and not one.is_multicast))
    return f"{address}, which embeds {shown}" if shown else address


def check_url(url: str) -> Target:
    """The URL's target if holdout may call it (else OutboundRefused)."""
    allowed_hosts, allow_http = _settings()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"{url!r} is not a valid URL") from exc
    host = (parts.hostname or "").lower()
    listed = host in allowed_hosts
    if parts.scheme != "https" and not (parts.scheme == "http" and (allow_http or listed)):
        raise OutboundRefused(f"{url!r}: only https URLs are allowed")
    if not host:
        raise OutboundRefused(f"{url!r} names no host")
    if parts.username or parts.password:
        raise OutboundRefused(f"{url!r}: credentials in a URL are not allowed")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        if listed:  # trusted by configuration: connecting will say if it does not resolve
            return Target(parts.scheme, host, port, path, host)
        raise OutboundRefused(f"{host!r} does not resolve: {exc}") from exc
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise OutboundRefused(f"{host!r} does not resolve")
    if not listed:
        private = [a for a in addresses if not is_public_address(a)]
        if private:
            raise OutboundRefused(
                f"{host!r} resolves to a non-public address ({_described(private[0])}); "
                "holdout only calls "
                "public hosts (or those in HOLDOUT_OUTBOUND_ALLOW_HOSTS)"
            )
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, on the checked address.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def request(url: str, **options: Any) -> tuple[int, bytes]:
    """One exchange with a checked URL: (status, body); the options and rules of `exchange`."""
    answer = exchange(url, **options)
    return answer.status, answer.body


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def exchange(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Answer:
    """One exchange with a checked URL: its status, headers and body. A redirect is answered as
    it is (3xx), never followed; `timeout` bounds the whole answer (a server dribbling bytes
    cannot hold a thread); more than max_bytes raises TooLarge. Raises OutboundRefused or
    OSError."""
    target = check_url(url)
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target, timeout)
    deadline = time.monotonic() + timeout
    try:
        connection.request(method, target.path, body=body, headers=headers or {})
        response = connection.getresponse()
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(f"{url} answered {declared} bytes (at most {max_bytes} taken)")
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(64 * 1024):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} took more than {timeout:g} s to answer")
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"{url} answered more than {max_bytes} bytes")
            chunks.append(chunk)
        return Answer(response.status, response.headers, b"".join(chunks))
    except http.client.HTTPException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
