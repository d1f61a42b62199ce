"""Which webhook URLs Pulse may call: https only, and only public addresses.

A tenant chooses its endpoint's URL, so a URL could point Pulse at its own network
(the metadata service, the warehouse, a router). Every address the host resolves to must
be globally routable: private, loopback, link-local, CGNAT (100.64.0.0/10), NAT64
(64:ff9b::/96), 6to4, multicast and reserved ranges are refused, as are IPv4 addresses
wrapped in IPv6. The request then goes to the address that was checked (`Target.ip`),
so a DNS answer that changes between the check and the connection cannot slip through.
Exceptions are explicit: PULSE_WEBHOOK_ALLOW_NETWORKS (tests allow 127.0.0.0/8) and
PULSE_WEBHOOK_ALLOW_HTTP.

Host names are checked and IDNA-encoded here (`bücher.example` -> `xn--bcher-kva.example`)
so the resolver, the Host header and TLS SNI only ever see ASCII; a port outside
PULSE_WEBHOOK_ALLOWED_PORTS is refused. A name that cannot be resolved *now* is not a
refusal (`ResolutionError`): DNS fails for a while, and the delivery is retried.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

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

# A resolver gets the ASCII (IDNA) host and the port and returns addresses; it may raise
# OSError (socket.gaierror), which check_url turns into ResolutionError.
Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253  # RFC 1035, without the trailing dot
ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class UrlRefused(ValueError):
    """The URL may not be called; the message says why and what would allow it."""


class ResolutionError(OSError):
    """The host could not be resolved now (no such name, or a temporary DNS failure):
    an attempt that failed, retried like a refused connection; never a refusal."""


@dataclass(frozen=True)
class Target:
    url: str          # the URL to request: the host replaced by the checked address
    host: str         # the original host name, the TLS SNI and certificate name
    host_header: str  # the original host[:port], sent as Host
    ip: str


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def ascii_host(host: str) -> str:
    """The host as the resolver, Host header and SNI need it: lower-case ASCII, IDNA
    (UTS 46) for international names; UrlRefused if it is no valid host name."""
    host = host.rstrip(".")
    if not host:
        raise UrlRefused("the URL has no host")
    if host.isascii():
        encoded = host.lower()
    else:
        try:
            encoded = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise UrlRefused(f"the host name {host[:80]!r} is not a valid international "
                             f"(IDNA) name: {exc}") from None
    if len(encoded) > MAX_HOST_LENGTH:
        raise UrlRefused(f"the host name is {len(encoded)} characters long: at most "
                         f"{MAX_HOST_LENGTH} are allowed")
    for label in encoded.split("."):
        if len(label) > 63:
            raise UrlRefused(f"the host name has a {len(label)}-character label: a label "
                             "(between dots) has at most 63 characters")
        if not ASCII_LABEL.match(label):
            raise UrlRefused(f"the host name {encoded[:80]!r} has an invalid label "
                             f"{label[:63]!r}: use letters, digits and hyphens")
    return encoded


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
    """The address to call for `url`; UrlRefused if the URL may not be called,
    ResolutionError if its host cannot be resolved now."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is {len(url)} characters long: at most {MAX_URL_LENGTH}")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UrlRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # e.g. port 99999, an unbalanced [ in the host
        raise UrlRefused(f"malformed URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise UrlRefused(f"{parts.scheme or 'no'} scheme: a webhook URL starts with https://")
    if parts.scheme == "http" and not settings.allow_http:
        raise UrlRefused("plain http is refused: use https:// (PULSE_WEBHOOK_ALLOW_HTTP=1 "
                         "allows http, for local tests only)")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are refused: the signature authenticates "
                         "Pulse, and the receiver needs no password")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    effective_port = port or (443 if parts.scheme == "https" else 80)
    if not settings.port_allowed(effective_port):
        allowed = ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}"
                           for lo, hi in settings.allowed_ports)
        raise UrlRefused(f"port {effective_port} is not allowed: webhook URLs use ports "
                         f"{allowed} (PULSE_WEBHOOK_ALLOWED_PORTS)")
    try:
        literal: IPAddress | None = ipaddress.ip_address(parts.hostname.split("%")[0])
    except ValueError:
        literal = None
    if literal is not None:
        host = str(literal)
        addresses = [host]
    else:
        host = ascii_host(parts.hostname)
        try:
            addresses = resolve(host, effective_port)
        except OSError as exc:
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ResolutionError(f"cannot resolve {host}: {detail}") from None
    if not addresses:
        raise ResolutionError(f"{host} resolves to no address")
    for raw in addresses:
        problem = address_problem(ipaddress.ip_address(raw.split("%")[0]), settings)
        if problem:
            raise UrlRefused(
                f"{host} resolves to {raw}: {problem}. Webhooks only go to public addresses "
                "(PULSE_WEBHOOK_ALLOW_NETWORKS lists exceptions, e.g. for local tests)")
    ip = addresses[0]
    suffix = f":{port}" if port else ""
    netloc = (f"[{ip}]" if ":" in ip else ip) + suffix
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = (f"[{host}]" if ":" in host else host) + suffix
    return Target(url=pinned, host=host, host_header=host_header, ip=ip)
