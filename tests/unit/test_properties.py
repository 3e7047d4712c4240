"""Property tests of the validators: metadata, content types, webhook URLs and cursors.

Each property states the rule independently of the code under test (an oracle) and lets
Hypothesis look for an input on which the two disagree, or on which the validator raises
anything other than its own refusal. tests/unit/security/test_urls.py already covers canonical
IP literals, arbitrary strings and public-looking names; the URL properties here add the other
notations of an address, IPv6 zone ids, Unicode that IDNA folds into something else, and
normalization being stable.

``STEVE_PROPERTY_EXAMPLES`` sets the examples per property (default 100; ``just harden`` uses
more).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from steve_lite.db import Database
from steve_lite.errors import Malformed
from steve_lite.http.bodies import finite_float, refuse_constant, validation_problem
from steve_lite.http.problems import problem_for
from steve_lite.pagination import decode_cursor, encode_cursor
from steve_lite.security.urls import UrlRejected, is_address_allowed, validate_webhook_url
from steve_lite.sessions.schemas import SessionCreate
from steve_lite.sessions.service import check_against_workflow
from steve_lite.settings import Settings
from steve_lite.workflows.schemas import FORMATS, UploadContract
from tests.support.api import make_settings, open_database

EXAMPLES = int(os.environ.get("STEVE_PROPERTY_EXAMPLES", "100"))
PROPERTIES = settings(max_examples=EXAMPLES)
WITH_FIXTURE = settings(
    max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MAX_METADATA_BYTES = 4096  # contract 2.2
MAX_METADATA_DEPTH = 2

# ---------------------------------------------------------------- metadata


def depth(value: Any) -> int:
    """Levels of objects, counted the way the contract words it: ``{"a": 1}`` is one level."""
    if not isinstance(value, dict):
        return 0
    return 1 + max((depth(item) for item in value.values()), default=0)


def leaves_ok(value: Any) -> bool:
    if isinstance(value, dict):
        return all(leaves_ok(item) for item in value.values())
    return isinstance(value, str | int | float | bool) and value is not None


def serialized_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def metadata_allowed(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and serialized_size(value) <= MAX_METADATA_BYTES
        and depth(value) <= MAX_METADATA_DEPTH
        and leaves_ok(value)
    )


keys = st.text(max_size=12)
scalars = (
    st.text(max_size=40)
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)
json_values = st.recursive(
    scalars | st.none(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)
metadata_objects = st.dictionaries(keys, json_values, max_size=6)


def create_body(metadata: Any) -> dict[str, Any]:
    return {
        "fileCount": 1,
        "contentTypes": ["image/jpeg"],
        "clientSubmissionId": "cs-1",
        "metadata": metadata,
    }


@PROPERTIES
@given(metadata_objects)
@example({"a": {"b": {"c": 1}}})  # three levels
@example({"a": {"b": 1}})  # two levels: the limit
@example({"a": None})
@example({"a": [1, 2]})
@example({"a": {"b": [True]}})
def test_metadata_is_accepted_exactly_by_the_rules(metadata: dict[str, Any]) -> None:
    try:
        parsed = SessionCreate.model_validate(create_body(metadata))
    except ValidationError as exc:
        assert not metadata_allowed(metadata), metadata
        problem = validation_problem(exc)
        assert [error.field for error in problem.errors] == ["metadata"]
        assert problem_for(problem).status == 422
    else:
        assert metadata_allowed(metadata), metadata
        assert parsed.metadata == metadata


@PROPERTIES
@given(st.integers(min_value=0, max_value=MAX_METADATA_BYTES + 64), st.text(max_size=3))
def test_metadata_size_limit_is_exact(padding: int, key: str) -> None:
    """Sizes around 4096 bytes, multi-byte characters included (the limit is in bytes)."""
    metadata = {key: "é" * (padding // 2) + "x" * (padding % 2)}
    size = serialized_size(metadata)
    try:
        SessionCreate.model_validate(create_body(metadata))
    except ValidationError:
        assert size > MAX_METADATA_BYTES
    else:
        assert size <= MAX_METADATA_BYTES


@PROPERTIES
@given(json_values.filter(lambda value: not isinstance(value, dict)))
def test_metadata_that_is_not_an_object_is_refused(value: Any) -> None:
    assume(value is not None)  # null is the same as no metadata
    with pytest.raises(ValidationError) as refused:
        SessionCreate.model_validate(create_body(value))
    assert [error.field for error in validation_problem(refused.value).errors] == ["metadata"]


# ---------------------------------------------------------------- JSON bodies


@PROPERTIES
@given(st.text(alphabet='[]{}":,0123456789.eE+-tfrueals nNIinfityaN', max_size=60))
@example("NaN")
@example("[1e999]")
@example('{"a": -Infinity}')
@example("1E400")
def test_parsed_bodies_always_serialize_as_strict_json(text: str) -> None:
    """Whatever the body parser accepts can be sent on in a webhook as strict JSON: no NaN, no
    Infinity, whatever the numbers said."""
    try:
        value = json.loads(text, parse_float=finite_float, parse_constant=refuse_constant)
    except ValueError:
        return
    json.dumps(value, allow_nan=False)


@PROPERTIES
@given(st.floats())
def test_finite_float_refuses_exactly_the_non_finite(number: float) -> None:
    text = repr(number)
    if math.isfinite(number):
        assert finite_float(text) == number
    else:
        with pytest.raises(ValueError):
            finite_float(text)


# ---------------------------------------------------------------- content types


def upload_contracts() -> st.SearchStrategy[UploadContract]:
    return st.builds(
        lambda low, span, formats: UploadContract(
            min_files=low,
            max_files=low + span,
            accepted_formats=formats,
            file_labels=["file"],
            max_file_size_mb=10,
        ),
        st.integers(1, 20),
        st.integers(0, 20),
        st.lists(st.sampled_from(sorted(FORMATS)), min_size=1, max_size=3, unique=True),
    )


content_types = st.sampled_from([*FORMATS, "image/gif", "IMAGE/JPEG", "image/jpg", "", "jpeg"]) | (
    st.text(max_size=20)
)


@pytest.fixture(scope="module")
def plain_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("properties"))


@WITH_FIXTURE
@given(
    upload=upload_contracts(),
    file_count=st.integers(1, 100),
    types=st.lists(content_types, min_size=1, max_size=30),
)
def test_content_types_against_accepted_formats(
    plain_settings: Settings, upload: UploadContract, file_count: int, types: list[str]
) -> None:
    body = SessionCreate.model_validate(
        {"fileCount": file_count, "contentTypes": types, "clientSubmissionId": "cs"}
    )
    fields = [error.field for error in check_against_workflow(body, upload, plain_settings)]
    expected = []
    if not upload.min_files <= file_count <= upload.max_files:
        expected.append("fileCount")
    if len(types) != file_count:
        expected.append("contentTypes")
    expected += [
        f"contentTypes[{index}]"
        for index, content_type in enumerate(types)
        if content_type not in upload.accepted_formats  # exact, case-sensitive MIME types
    ]
    assert fields == expected


# ---------------------------------------------------------------- webhook URLs


def ipv4_notations(ip: ipaddress.IPv4Address) -> st.SearchStrategy[str]:
    """Spellings of ``ip`` that inet_aton, curl or a browser read as ``ip``, but not the
    canonical dotted quad."""
    value = int(ip)
    octets = [int(part) for part in str(ip).split(".")]
    spellings = [
        str(value),  # one decimal number
        hex(value),  # one hex number
        "0x" + format(value, "08X"),
        ".".join(f"0{octet:o}" for octet in octets),  # octal octets
        ".".join(hex(octet) for octet in octets),  # hex octets
        f"{octets[0]}.{value & 0xFFFFFF}",  # a.bcd
        f"{octets[0]}.{octets[1]}.{value & 0xFFFF}",  # a.b.cd
        ".".join(f"{octet:03d}" for octet in octets),  # zero-padded decimal
    ]
    return st.sampled_from([s for s in spellings if s != str(ip)])


@PROPERTIES
@given(st.ip_addresses(v=4).flatmap(lambda ip: st.tuples(st.just(ip), ipv4_notations(ip))))
@example((ipaddress.IPv4Address("127.0.0.1"), "2130706433"))
@example((ipaddress.IPv4Address("169.254.169.254"), "0xa9fea9fe"))
@example((ipaddress.IPv4Address("8.8.8.8"), "010.010.010.010"))
def test_other_ipv4_notations_are_refused(pair: tuple[ipaddress.IPv4Address, str]) -> None:
    """Only the canonical dotted quad is an IPv4 literal; any other spelling is refused, even of
    a public address, so no reader can take it for a different one."""
    _, spelling = pair
    for allow_private in (False, True):
        with pytest.raises(UrlRejected):
            validate_webhook_url(f"https://{spelling}/hook", allow_private=allow_private)


def ipv6_spellings(ip: ipaddress.IPv6Address) -> st.SearchStrategy[str]:
    spellings = {ip.compressed, ip.exploded, ip.compressed.upper(), ip.exploded.upper()}
    embedded = ip.ipv4_mapped
    if embedded is not None:
        spellings.add(f"::ffff:{embedded}")
        spellings.add(f"0:0:0:0:0:ffff:{embedded}")
    return st.sampled_from(sorted(spellings))


ipv6_addresses = st.ip_addresses(v=6) | st.ip_addresses(v=4).map(
    lambda ip: ipaddress.IPv6Address(f"::ffff:{ip}")
)


@PROPERTIES
@given(ipv6_addresses.flatmap(lambda ip: st.tuples(st.just(ip), ipv6_spellings(ip))))
def test_every_ipv6_spelling_gets_the_same_decision(
    pair: tuple[ipaddress.IPv6Address, str],
) -> None:
    """Expanded, compressed, upper-case or with an IPv4 tail: one address, one decision, and the
    accepted URL carries the compressed form."""
    ip, spelling = pair
    url = f"https://[{spelling}]:8443/hook"
    if is_address_allowed(ip):
        assert validate_webhook_url(url) == f"https://[{ip.compressed}]:8443/hook"
    else:
        with pytest.raises(UrlRejected):
            validate_webhook_url(url)


zone_ids = st.text(alphabet=string.ascii_letters + string.digits + "._~-", min_size=1, max_size=8)


@PROPERTIES
@given(ipv6_addresses, zone_ids, st.sampled_from(["%25", "%"]), st.booleans())
@example(ipaddress.IPv6Address("fe80::1"), "eth0", "%25", True)
@example(ipaddress.IPv6Address("2606:4700::1111"), "1", "%25", False)
def test_ipv6_zone_ids_are_always_refused(
    ip: ipaddress.IPv6Address, zone: str, separator: str, allow_private: bool
) -> None:
    """A scope names an interface of the sender's machine: never part of a webhook URL, even for
    a public address or with private targets allowed."""
    with pytest.raises(UrlRejected):
        validate_webhook_url(f"https://[{ip}{separator}{zone}]/hook", allow_private=allow_private)


# Characters IDNA (UTS 46) maps onto ASCII: full stops, full-width digits and letters, and
# circled letters; hosts spelled with them must meet the same rules as their ASCII form.
FOLDED = {
    ".": ["\u3002", "\uff0e", "\uff61"],
    **{digit: [chr(0xFF10 + int(digit))] for digit in string.digits},
    **{
        letter: [chr(0xFF41 + i), chr(0x24D0 + i)]
        for i, letter in enumerate(string.ascii_lowercase)
    },
}


def unicode_spellings(host: str) -> st.SearchStrategy[str]:
    """``host`` with some characters replaced by Unicode that IDNA folds back onto them."""
    return st.lists(st.booleans(), min_size=len(host), max_size=len(host)).flatmap(
        lambda flags: st.tuples(
            *(
                st.sampled_from(FOLDED[char]) if flag and char in FOLDED else st.just(char)
                for char, flag in zip(host, flags, strict=True)
            )
        ).map("".join)
    )


ascii_hosts = st.sampled_from(
    [
        "localhost",
        "127.0.0.1",
        "10.0.0.8",
        "169.254.169.254",
        "printer.local",
        "db.internal",
        "app.localhost",
        "hooks.example.com",
        "93.184.216.34",
        "8.8.8.8",
    ]
) | st.ip_addresses(v=4).map(str)


@PROPERTIES
@given(ascii_hosts.flatmap(lambda host: st.tuples(st.just(host), unicode_spellings(host))))
@example(("127.0.0.1", "127\u30020\u30020\u30021"))
@example(("localhost", "\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3"))
def test_unicode_hosts_meet_the_rules_of_their_ascii_form(pair: tuple[str, str]) -> None:
    """A host spelled with full-width or circled characters, or ideographic full stops, is
    judged as the ASCII host IDNA turns it into: no loophole to loopback or local names."""
    host, spelling = pair
    try:
        expected: str | None = validate_webhook_url(f"https://{host}/hook")
    except UrlRejected:
        expected = None
    try:
        actual: str | None = validate_webhook_url(f"https://{spelling}/hook")
    except UrlRejected:
        actual = None
    assert actual == expected


@PROPERTIES
@given(st.text(min_size=1, max_size=40), st.booleans())
def test_normalized_urls_are_stable(host: str, allow_private: bool) -> None:
    """What validation returns is accepted again unchanged, and is ASCII: the stored URL is the
    one checked again at delivery time."""
    try:
        normalized = validate_webhook_url(f"https://{host}/p?q=1", allow_private=allow_private)
    except UrlRejected:
        return
    assert normalized.isascii()
    assert validate_webhook_url(normalized, allow_private=allow_private) == normalized


# ---------------------------------------------------------------- cursors


@pytest.fixture(scope="module")
def cursor_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return open_database(make_settings(Path(tmp_path_factory.mktemp("cursors"))))


positions = (
    st.integers(min_value=-(2**63), max_value=2**63)
    | st.text(max_size=40)
    | st.lists(st.integers() | st.text(max_size=8), max_size=3)
)
scopes = st.text(min_size=1, max_size=60)
BASE64URL = string.ascii_letters + string.digits + "-_"


@WITH_FIXTURE
@given(scope=scopes, position=positions)
def test_cursors_round_trip(cursor_db: Database, scope: str, position: Any) -> None:
    cursor = encode_cursor(cursor_db, scope, position)
    assert set(cursor) <= set(BASE64URL)
    assert decode_cursor(cursor_db, scope, cursor) == position


@WITH_FIXTURE
@given(scope=scopes, position=positions, data=st.data())
def test_a_cursor_changed_anywhere_is_bad_request(
    cursor_db: Database, scope: str, position: Any, data: st.DataObject
) -> None:
    """Replace, insert or delete one character anywhere, or move it to another list: always
    400 ``bad-request``, never another exception."""
    cursor = encode_cursor(cursor_db, scope, position)
    index = data.draw(st.integers(0, len(cursor) - 1), label="index")
    edit = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "scope"]))
    character = data.draw(st.characters() | st.sampled_from(BASE64URL), label="character")
    if edit == "replace":
        assume(character != cursor[index])
        changed, other_scope = cursor[:index] + character + cursor[index + 1 :], scope
    elif edit == "insert":
        changed, other_scope = cursor[:index] + character + cursor[index:], scope
    elif edit == "delete":
        changed, other_scope = cursor[:index] + cursor[index + 1 :], scope
    elif edit == "truncate":
        changed, other_scope = cursor[:index], scope
    else:
        other_scope = data.draw(scopes.filter(lambda s: s != scope), label="other scope")
        changed = cursor
    with pytest.raises(Malformed):
        decode_cursor(cursor_db, other_scope, changed)


@WITH_FIXTURE
@given(st.text(max_size=200) | st.binary(max_size=150).map(lambda b: b.hex()))
def test_arbitrary_cursors_are_bad_request(cursor_db: Database, text: str) -> None:
    assume(text)
    with pytest.raises(Malformed):
        decode_cursor(cursor_db, "submissions:co_x:None:None:None", text)


@pytest.mark.parametrize("position", [7, "ses_0123456789abcdef01234567", [3, "b"]])
def test_every_one_character_change_is_refused(cursor_db: Database, position: Any) -> None:
    """Exhaustive where the random search is thin: every printable ASCII character put in place
    of, or inserted before, every character of a cursor. Base64 decoders skip characters
    outside the alphabet and ignore the spare bits of the last character; neither may let an
    altered cursor through."""
    scope = "submissions:co_0:None:None:None"
    cursor = encode_cursor(cursor_db, scope, position)
    refused = 0
    for index in range(len(cursor) + 1):
        for character in string.printable:
            changes = [cursor[:index] + character + cursor[index:]]
            if index < len(cursor) and character != cursor[index]:
                changes.append(cursor[:index] + character + cursor[index + 1 :])
            for changed in changes:
                with pytest.raises(Malformed):
                    decode_cursor(cursor_db, scope, changed)
                refused += 1
    assert refused > 100 * len(cursor)
