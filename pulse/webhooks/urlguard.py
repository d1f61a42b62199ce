"""Which webhook URLs Pulse may call: https only, and only public addresses.

A tenant chooses its endpoint's URL, so a URL could point Pulse at its own network
(the metadata service, the warehouse, a router). Every address the host resolves to must
be globally routable: private, loopback, link-local, CGNAT (100.64.0.0/10), NAT64
(64:ff9b::/96), 6to4, multicast and reserved ranges are refused, as are IPv4 addresses
wrapped in IPv6. The request then goes to the address that was checked (`Target.ip`),
so a DNS answer that changes between the check and the connection cannot slip through.
Exceptions are explicit: PULSE_WEBHOOK_ALLOW_NETWORKS (tests allow 127.0.0.0/8) and
PULSE_WEBHOOK_ALLOW_HTTP.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pulse.webhooks.settings import WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges Python's is_global lets through but that lead back into private networks.
BLOCKED = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96",    # NAT64: the embedded IPv4 address may be private
    "64:ff9b:1::/48",  # local-use NAT64
    "2002::/16",       # 6to4: embeds an IPv4 address
    "2001::/32",       # Teredo: embeds an IPv4 address
    "100.64.0.0/10",   # CGNAT (is_global is already False; listed to say so)
))

Resolver = Callable[[str, int], list[str]]


class UrlRefused(ValueError):
    """The URL may not be called; the message says why and what would allow it."""


@dataclass(frozen=True)
class Target:
    url: str          # the URL to request: the host replaced by the checked address
    host: str         # the original host name, the TLS SNI and certificate name
    host_header: str  # the original host[:port], sent as Host
    ip: str


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlRefused(f"cannot resolve {host}: {exc.strerror}") from None
    return sorted({str(info[4][0]) for info in infos})


def address_problem(ip: IPAddress, settings: WebhookSettings) -> str | None:
    """Why Pulse may not call this address, or None."""
    if any(ip in net for net in settings.allow_networks if net.version == ip.version):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        inner = address_problem(ip.ipv4_mapped, settings)
        return f"IPv4-mapped {inner}" if inner else None
    for net in BLOCKED:
        if net.version == ip.version and ip in net:
            return f"{ip} is in {net}"
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if ip.is_private or not ip.is_global:
        return f"{ip} is a private address"
    return None


def check_url(url: str, settings: WebhookSettings,
              resolve: Resolver = system_resolver) -> Target:
    """The address to call for `url`, or UrlRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise UrlRefused(f"{parts.scheme or 'no'} scheme: a webhook URL starts with https://")
    if parts.scheme == "http" and not settings.allow_http:
        raise UrlRefused("plain http is refused: use https:// (PULSE_WEBHOOK_ALLOW_HTTP=1 "
                         "allows http, for local tests only)")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are refused: the signature authenticates "
                         "Pulse, and the receiver needs no password")
    host = parts.hostname
    if not host:
        raise UrlRefused("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal else resolve(host, port)
    if not addresses:
        raise UrlRefused(f"{host} resolves to no address")
    for raw in addresses:
        problem = address_problem(ipaddress.ip_address(raw.split("%")[0]), settings)
        if problem:
            raise UrlRefused(
                f"{host} resolves to {raw}: {problem}. Webhooks only go to public addresses "
                "(PULSE_WEBHOOK_ALLOW_NETWORKS lists exceptions, e.g. for local tests)")
    ip = addresses[0]
    netloc = (f"[{ip}]" if ":" in ip else ip) + (f":{parts.port}" if parts.port else "")
    pinned = parts._replace(netloc=netloc).geturl()
    return Target(url=pinned, host=host, host_header=parts.netloc, ip=ip)
