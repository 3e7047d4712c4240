"""Password rules and checks of reviewer accounts."""

from __future__ import annotations

from steve_lite.console.accounts import (
    hash_password,
    hash_token,
    password_problem,
    verify_password,
)
from steve_lite.console.logins import csrf_matches


def test_password_rules() -> None:
    assert password_problem("short", "short") == "the password needs at least 12 characters"
    assert (
        password_problem("x" * 1025, "x" * 1025) == "the password may have at most 1024 characters"
    )
    assert password_problem("twelve chars!", "twelve chars?") == "the two passwords differ"
    assert password_problem("twelve chars!", "twelve chars!") is None


def test_hashes_are_argon2id_salted_and_verify() -> None:
    first, second = hash_password("a long password"), hash_password("a long password")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "a long password")
    assert not verify_password(first, "a long passworD")
    assert not verify_password("not a hash", "a long password")


def test_without_an_account_no_password_verifies() -> None:
    # Checked against a dummy hash so that an unknown account costs as long as a known one.
    assert not verify_password(None, "")
    assert not verify_password(None, "a long password")


def test_tokens_are_stored_hashed_and_compared_safely() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert csrf_matches("token", "token")
    assert not csrf_matches("token", "tokeN")
    assert not csrf_matches("token", None)
