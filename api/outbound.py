"""Where the platform may send a request to a URL it was given (webhooks, witnesses).

Only ``https`` to public addresses, every address the name resolves to checked before
each attempt, unless the deployment allows private ones (tests, a private network), so
that no URL makes the platform a way into its own network (SSRF).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeUrlError(ValueError):
    """A URL the platform will not send to, and why."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool, resolve: bool) -> None:
    """Raise UnsafeUrlError unless ``url`` is one the platform may send to.

    Also the witnesses' URLs (``api.witnesses``): every request the platform makes to a
    URL it was given goes through this one check.

    Args:
        allow_private: loopback, private addresses and plain http allowed (tests, a
            private network: ``API_WEBHOOK_ALLOW_PRIVATE``, ``API_WITNESS_ALLOW_PRIVATE``).
        resolve: also resolve the host and check every address (before each attempt;
            at registration a name that does not resolve yet is allowed).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrlError(f"not a URL: {error}") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrlError("the URL must be https://")
    if parts.scheme == "http" and not allow_private:
        raise UnsafeUrlError("the URL must be https:// (plain http is refused)")
    if not parts.hostname:
        raise UnsafeUrlError("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL may not carry a user name or password")
    if allow_private:
        return
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not _public(host):
            raise UnsafeUrlError(f"{host} is not a public address")
        return
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise UnsafeUrlError(f"{host} is not a public host")
    if not resolve:
        return
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise UnsafeUrlError(f"{host} does not resolve: {error}") from None
    for info in infos:
        address = str(info[4][0])
        if not _public(address):
            raise UnsafeUrlError(f"{host} resolves to {address}, which is not public")
