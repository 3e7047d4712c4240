"""Sign-in limits counted in the real database: per account, known or not, and per address."""

from __future__ import annotations

from steve_lite.console.logins import sign_in_allowed
from steve_lite.db import Database

WINDOW = 900
NOW = 1_800_000_000.0  # the start of a window


def attempt(db: Database, email: str, address: str, now: float = NOW) -> bool:
    return sign_in_allowed(
        db, email=email, address=address, account_limit=3, address_limit=5, window=WINDOW, now=now
    )


def test_an_account_is_limited_whatever_the_address(db: Database) -> None:
    assert [attempt(db, "Ann@Example.com", f"10.0.0.{n}") for n in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert not attempt(db, "ann@example.com ", "10.0.0.9")  # the same account, normalised
    assert attempt(db, "ann@example.com", "10.0.0.9", now=NOW + WINDOW)  # the next window


def test_an_address_is_limited_whatever_the_account(db: Database) -> None:
    answers = [attempt(db, f"user{n}@example.com", "192.0.2.7") for n in range(6)]
    assert answers == [True] * 5 + [False]
    assert attempt(db, "user9@example.com", "192.0.2.8")


def test_ended_windows_are_deleted(db: Database) -> None:
    attempt(db, "a@example.com", "192.0.2.1")
    attempt(db, "b@example.com", "192.0.2.2", now=NOW + WINDOW)
    rows = db.execute("SELECT DISTINCT window_start FROM console_sign_in_windows").fetchall()
    assert [row[0] for row in rows] == [int(NOW) + WINDOW]
