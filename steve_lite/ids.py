"""Opaque, prefixed, unguessable identifiers."""

from __future__ import annotations

import secrets


def new_id(prefix: str, random_bytes: int = 12) -> str:
    """``prefix`` + ``_`` + hex of ``random_bytes`` CSPRNG bytes (96 bits by default)."""
    return f"{prefix}_{secrets.token_hex(random_bytes)}"
