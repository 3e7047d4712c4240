"""Webhook URL rules: acceptance-time checks, the address policy and checked resolution."""

from __future__ import annotations

import contextlib
import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steve_lite.security.urls import (
    UrlRejected,
    is_address_allowed,
    resolve_checked,
    validate_webhook_url,
)

REFUSED_BY_DEFAULT = [
    ("http://example.com", "must use https"),
    ("https://127.0.0.1/x", "(127.0.0.1)"),
    ("https://10.0.0.5", "(10.0.0.5)"),
    ("https://[::1]", "(::1)"),
    ("https://169.254.169.254", "(169.254.169.254)"),
    ("https://foo.internal", "local name"),
    ("https://printer.local", "local name"),
    ("https://a.localhost", "local name"),
    ("https://localhost", "local name"),
    ("https://LOCALHOST./", "local name"),
    ("https://Foo.Internal./x", "local name"),
    ("https://[::ffff:127.0.0.1]", "not a public address"),
    ("https://[::ffff:7f00:1]", "not a public address"),
    ("https://[::127.0.0.1]", "not a public address"),
    ("https://[64:ff9b::a00:5]", "not a public address"),
    ("https://[2002:a00:5::1]", "not a public address"),
    ("https://[fd00::1]", "not a public address"),
    ("https://[fe80::1]", "not a public address"),
    ("https://2130706433", "canonical IPv4"),
    ("https://0x7f000001", "canonical IPv4"),
    ("https://0177.0.0.1", "canonical IPv4"),
    ("https://0x7f.1", "canonical IPv4"),
    ("https://127.1", "canonical IPv4"),
    ("https://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/", "(127.0.0.1)"),
    ("https://%31%32%37.0.0.1/", "percent-encoded"),
    ("https://user:pw@example.com", "user info"),
    ("https://evil.example\\@127.0.0.1/", "user info"),
    ("ftp://example.com", "must use https"),
    ("https://", "must have a host"),
    ("https:example.com", "absolute URL"),
    ("/relative/path", "absolute URL"),
    ("not a url", "whitespace"),
    ("https://example.com/a\nb", "control characters"),
    ("https://[fe80::1%25eth0]/", "zone id"),
    ("https://100.64.0.1", "(100.64.0.1)"),
    ("https://0.0.0.0", "(0.0.0.0)"),
    ("https://224.0.0.1", "(224.0.0.1)"),
    ("https://198.18.0.1", "(198.18.0.1)"),
    ("https://192.0.2.10", "(192.0.2.10)"),
    ("https://example.com:0/", "invalid port"),
    ("https://example.com:65536/", "invalid port"),
    ("https://example.com:80a/", "invalid port"),
    ("https://example.com:/", "invalid port"),
    ("https://intranet/", "fully qualified"),
    ("https://bad host.example/", "whitespace"),
    ("https://bad!host.example/", "valid hostname"),
    ("https://-dash.example/", "valid hostname"),
    ("https://a..b.example/", "valid hostname"),
    ("https://☃.example/", "internationalized"),
    ("https://example.com/" + "a" * 2048, "at most 2048"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED_BY_DEFAULT)
def test_refused_by_default(url: str, message: str) -> None:
    with pytest.raises(UrlRejected) as refused:
        validate_webhook_url(url)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://93.184.216.34/x", "https://93.184.216.34/x"),
        ("https://[2606:4700::1111]/", "https://[2606:4700::1111]/"),
        ("https://[2606:4700:0:0:0:0:0:1111]/", "https://[2606:4700::1111]/"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("HTTPS://Hooks.Example.COM:8443/In?a=1", "https://hooks.example.com:8443/In?a=1"),
        ("https://example.com/ä?q=ü", "https://example.com/%C3%A4?q=%C3%BC"),
        ("https://example.com./hook", "https://example.com./hook"),
        ("https://[2002:5db8:d822::1]/", "https://[2002:5db8:d822::1]/"),
        ("https://my_hooks.example.com/", "https://my_hooks.example.com/"),
    ],
)
def test_accepted_public_urls_are_normalized(url: str, normalized: str) -> None:
    assert validate_webhook_url(url) == normalized


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost:8080/x",
        "https://10.0.0.5/x",
        "http://[::1]:9000/",
        "http://receiver/hook",
        "http://printer.local/x",
    ],
)
def test_allow_private_accepts_local_receivers(url: str) -> None:
    assert validate_webhook_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/", "must use http or https"),
        ("http://user@127.0.0.1/", "user info"),
        ("http://2130706433/", "canonical IPv4"),
        ("http://[fe80::1%25eth0]/", "zone id"),
        ("http://127.0.0.1:99999/", "invalid port"),
    ],
)
def test_allow_private_still_requires_a_well_formed_url(url: str, message: str) -> None:
    with pytest.raises(UrlRejected) as refused:
        validate_webhook_url(url, allow_private=True)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.127.255.255", False),
        ("198.18.0.1", False),
        ("198.19.255.255", False),
        ("192.0.2.1", False),
        ("203.0.113.5", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("2001:db8::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::10.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("2002:c0a8:101::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
    ],
)
def test_address_policy(address: str, allowed: bool) -> None:
    assert is_address_allowed(ipaddress.ip_address(address)) is allowed


def test_resolution_to_loopback_is_refused() -> None:
    with pytest.raises(UrlRejected, match=r"address not allowed: 127\.0\.0\.1"):
        resolve_checked(
            "public.example", 443, allow_private=False, resolver=lambda host, port: ["127.0.0.1"]
        )


def test_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(UrlRejected, match=r"address not allowed: 10\.0\.0\.1"):
        resolve_checked(
            "public.example",
            443,
            allow_private=False,
            resolver=lambda host, port: ["93.184.216.34", "10.0.0.1"],
        )


def test_resolution_returns_the_checked_addresses_once_each() -> None:
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.216.34", "2606:4700::1111", "93.184.216.34"]

    addresses = resolve_checked("public.example", 8443, allow_private=False, resolver=resolver)

    assert addresses == ["93.184.216.34", "2606:4700::1111"]
    assert calls == [("public.example", 8443)]


def test_allow_private_returns_private_addresses() -> None:
    addresses = resolve_checked(
        "hooks.test", 80, allow_private=True, resolver=lambda host, port: ["127.0.0.1"]
    )
    assert addresses == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("host", "expected"), [("93.184.216.34", "93.184.216.34"), ("[::1]", "::1")]
)
def test_ip_literals_skip_the_resolver(host: str, expected: str) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("an IP literal must not be looked up")

    assert resolve_checked(host, 443, allow_private=True, resolver=resolver) == [expected]


def test_private_ip_literal_is_refused_without_lookup() -> None:
    with pytest.raises(UrlRejected, match=r"address not allowed: 10\.0\.0\.5"):
        resolve_checked("10.0.0.5", 443, allow_private=False)


def test_empty_and_invalid_resolver_answers_are_refused() -> None:
    with pytest.raises(UrlRejected, match="no address found"):
        resolve_checked("public.example", 443, allow_private=True, resolver=lambda h, p: [])
    with pytest.raises(UrlRejected, match="invalid address"):
        resolve_checked("public.example", 443, allow_private=True, resolver=lambda h, p: ["x"])


def test_default_resolver_answers_are_checked_too() -> None:
    # "localhost" is answered from /etc/hosts (no DNS traffic) and must then be refused.
    with pytest.raises(UrlRejected, match="address not allowed"):
        resolve_checked("localhost", 80, allow_private=False)


@given(st.ip_addresses())
def test_ip_literal_urls_agree_with_the_address_policy(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"https://{host}/hook"
    if is_address_allowed(ip):
        assert validate_webhook_url(url) == url
    else:
        with pytest.raises(UrlRejected):
            validate_webhook_url(url)


@given(st.ip_addresses())
def test_resolved_addresses_agree_with_the_address_policy(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return [str(ip)]

    if is_address_allowed(ip):
        assert resolve_checked("h.example", 443, allow_private=False, resolver=resolver) == [
            str(ip)
        ]
    else:
        with pytest.raises(UrlRejected):
            resolve_checked("h.example", 443, allow_private=False, resolver=resolver)


@given(host=st.text(max_size=80), allow_private=st.booleans())
def test_arbitrary_hosts_never_crash(host: str, allow_private: bool) -> None:
    try:
        result = validate_webhook_url(f"https://{host}/hook", allow_private=allow_private)
    except UrlRejected:
        return
    assert result.startswith("https://")
    assert result.isascii()


@given(url=st.text(max_size=120), allow_private=st.booleans())
def test_arbitrary_strings_never_crash(url: str, allow_private: bool) -> None:
    with contextlib.suppress(UrlRejected):
        validate_webhook_url(url, allow_private=allow_private)


@given(
    labels=st.lists(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True), min_size=2, max_size=4
    )
)
def test_public_looking_hostnames_are_accepted(labels: list[str]) -> None:
    host = ".".join(labels)
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*|local|localhost|internal", labels[-1]):
        return  # numeric or local top-level labels are refused on purpose
    assert validate_webhook_url(f"https://{host}/hook") == f"https://{host}/hook"
