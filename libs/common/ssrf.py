"""SSRF guard for every outbound URL (webhooks, playbook HTTP calls).

A URL is refused unless it is http(s) and every address its host resolves to is public.
Loopback and private targets are allowed only where settings say so (local development
and tests, where receivers listen on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from libs.common.errors import OutboundUrlRefused

ALLOWED_SCHEMES = frozenset({"http", "https"})


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def check_outbound_url(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise OutboundUrlRefused("outbound URL must be http(s) with a host", url=_redact(url))
    if parts.username or parts.password:
        raise OutboundUrlRefused("outbound URL must not embed credentials", url=_redact(url))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise OutboundUrlRefused("outbound URL has an invalid port", url=_redact(url)) from error
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as error:
        raise OutboundUrlRefused("outbound host does not resolve", url=_redact(url)) from error
    addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    if allow_private:
        return
    blocked = sorted(str(address) for address in addresses if not _is_public(address))
    if blocked:
        raise OutboundUrlRefused(
            "outbound URL resolves to a non-public address", url=_redact(url), addresses=blocked
        )


def _redact(url: str) -> str:
    """Keep scheme, host and path; drop query strings, which often carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{parts.path}"
