"""Webhook URL rules: what a webhook URL may look like and which addresses it may reach.

Two layers guard against server-side request forgery:

- `validate_webhook_url` runs when a URL is accepted. It needs no DNS: it checks the URL's shape
  and refuses local names and non-public IP literals.
- `resolve_checked` runs when a webhook is sent. It resolves the host once and refuses the
  request if any address is not public; the sender then connects to exactly those addresses.

Address policy (`is_address_allowed`): only globally routable unicast addresses are allowed.
Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20)
are refused too: they are never a real receiver, and refusing them costs nothing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import string
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
MAX_HOSTNAME_LENGTH = 253
LOCAL_NAME_SUFFIXES = (".localhost", ".local", ".internal")

_BLOCKED_IPV4_NETWORKS = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network", includes the unspecified address
        "10.0.0.0/8",  # private (RFC 1918)
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, includes cloud metadata endpoints
        "172.16.0.0/12",  # private (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private (RFC 1918)
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes the limited broadcast address
    )
)

_BLOCKED_IPV6_NETWORKS = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, includes Teredo and benchmarking
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)

# IPv6 ranges whose low 32 bits (or, for 6to4, bits 16..48) carry an IPv4 address that a
# dual-stack host or a translator may end up reaching.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

_HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_SAFE_PATH_CHARACTERS = "".join(
    character for character in string.printable if not character.isspace()
)


class UrlRejected(ValueError):
    """A webhook URL, or an address it resolves to, that steve-lite refuses to call."""


def is_address_allowed(ip: IPAddress) -> bool:
    """Tell whether a webhook may be sent to this address: globally routable unicast only."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not any(ip in network for network in _BLOCKED_IPV4_NETWORKS)
    if any(ip in network for network in _BLOCKED_IPV6_NETWORKS):
        return False
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_address_allowed(embedded)
    return ip.is_global


def validate_webhook_url(url: str, *, allow_private: bool = False) -> str:
    """Check a webhook URL without DNS and return it normalized, or raise `UrlRejected`.

    The normalized form has a lowercase scheme, an ASCII (IDNA) lowercase host, canonical IP
    literals and percent-encoded non-ASCII path characters. With `allow_private`, `http` is
    accepted and private addresses and local names are not refused; the URL must still be
    well formed.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UrlRejected(f"webhookUrl must be at most {MAX_URL_LENGTH} characters")
    if any(character.isspace() or not character.isprintable() for character in url):
        raise UrlRejected("webhookUrl must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UrlRejected("webhookUrl is not a valid URL") from None
    scheme = parts.scheme.lower()
    if not scheme or not url[len(scheme) + 1 :].startswith("//"):
        raise UrlRejected("webhookUrl must be an absolute URL")
    if scheme != "https" and not (allow_private and scheme == "http"):
        raise UrlRejected(
            "webhookUrl must use http or https" if allow_private else "webhookUrl must use https"
        )
    if "@" in parts.netloc:
        raise UrlRejected("webhookUrl must not contain user info")
    raw_host, port = _split_host_port(parts.netloc)
    host = _normalize_host(raw_host, allow_private=allow_private)
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            scheme,
            netloc,
            quote(parts.path, safe=_SAFE_PATH_CHARACTERS),
            quote(parts.query, safe=_SAFE_PATH_CHARACTERS),
            quote(parts.fragment, safe=_SAFE_PATH_CHARACTERS),
        )
    )


def resolve_checked(
    host: str,
    port: int,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
) -> list[str]:
    """Resolve a host once and return its addresses, refusing if any of them is not allowed.

    IP literals (with or without IPv6 brackets) are not looked up. `resolver` maps a host and
    port to IP strings; the default asks `socket.getaddrinfo` for TCP addresses.
    """
    literal = _parse_ip(host.removeprefix("[").removesuffix("]"))
    if literal is not None:
        addresses = [str(literal)]
    else:
        addresses = (resolver or _resolve_with_getaddrinfo)(host, port)
    if not addresses:
        raise UrlRejected(f"no address found for {host}")
    checked: list[str] = []
    for address in addresses:
        ip = _parse_ip(address)
        if ip is None:
            raise UrlRejected(f"resolver returned an invalid address: {address!r}")
        if not allow_private and not is_address_allowed(ip):
            raise UrlRejected(f"address not allowed: {ip}")
        checked.append(str(ip))
    return list(dict.fromkeys(checked))


def _resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    if any(ip in network for network in (_IPV4_MAPPED, _IPV4_TRANSLATED, _IPV4_COMPATIBLE, _NAT64)):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _split_host_port(netloc: str) -> tuple[str, str | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end == -1:
            raise UrlRejected("webhookUrl has an invalid IPv6 address")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
    else:
        host, separator, port = netloc.partition(":")
        rest = separator + port
    if not rest:
        return host, None
    port = rest.removeprefix(":")
    if port == rest or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise UrlRejected("webhookUrl has an invalid port")
    return host, str(int(port))


def _normalize_host(host: str, *, allow_private: bool) -> str:
    if not host:
        raise UrlRejected("webhookUrl must have a host")
    if host.startswith("["):
        return f"[{_check_ipv6_literal(host[1:-1], allow_private=allow_private)}]"
    if "%" in host:
        raise UrlRejected("webhookUrl host must not be percent-encoded")
    ascii_host = _host_to_ascii(host)
    name = ascii_host.removesuffix(".")
    if _NUMERIC_LABEL.fullmatch(name.rpartition(".")[2]):
        return _check_ipv4_literal(name, allow_private=allow_private)
    _check_hostname_syntax(name)
    if not allow_private:
        _check_public_name(name)
    return ascii_host


def _host_to_ascii(host: str) -> str:
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise UrlRejected("webhookUrl host is not a valid internationalized domain name") from None


def _check_ipv6_literal(text: str, *, allow_private: bool) -> str:
    if "%" in text:
        raise UrlRejected("webhookUrl must not contain an IPv6 zone id")
    try:
        ip = ipaddress.IPv6Address(text)
    except ValueError:
        raise UrlRejected("webhookUrl has an invalid IPv6 address") from None
    if not allow_private and not is_address_allowed(ip):
        raise UrlRejected(f"webhookUrl host is not a public address ({ip})")
    return ip.compressed


def _check_ipv4_literal(name: str, *, allow_private: bool) -> str:
    # Only canonical dotted quads: "2130706433", "0x7f.1" or "0177.0.0.1" mean 127.0.0.1 to
    # browsers, curl and inet_aton, so any other numeric form is refused outright.
    try:
        ip = ipaddress.IPv4Address(name)
    except ValueError:
        raise UrlRejected("webhookUrl host is not a canonical IPv4 address") from None
    if not allow_private and not is_address_allowed(ip):
        raise UrlRejected(f"webhookUrl host is not a public address ({ip})")
    return str(ip)


def _check_hostname_syntax(name: str) -> None:
    labels = name.split(".")
    if len(name) > MAX_HOSTNAME_LENGTH or not all(
        len(label) <= 63 and _HOST_LABEL.fullmatch(label) for label in labels
    ):
        raise UrlRejected("webhookUrl host is not a valid hostname")


def _check_public_name(name: str) -> None:
    if name == "localhost" or name.endswith(LOCAL_NAME_SUFFIXES):
        raise UrlRejected(f"webhookUrl host must be public ({name} is a local name)")
    if "." not in name:
        # A single label is completed by the resolver's search domains: an internal name.
        raise UrlRejected("webhookUrl host must be a fully qualified domain name")
