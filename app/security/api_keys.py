"""Tenant API keys: ``kt_`` + base62 of 32 random bytes, stored only as SHA-256 plus a preview."""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "kt_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_BYTES = 32
# 32 bytes in base62 need 43 characters; we always pad to that length.
_BODY_LENGTH = 43
KEY_PATTERN = re.compile(r"^kt_[0-9A-Za-z]{43,128}$")


def _base62(data: bytes, width: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars)).rjust(width, "0")


def mint() -> str:
    """A new key with 256 bits of randomness."""
    return PREFIX + _base62(secrets.token_bytes(_RANDOM_BYTES), _BODY_LENGTH)


def is_well_formed(key: str) -> bool:
    return bool(KEY_PATTERN.match(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def preview(key: str) -> str:
    """What the UI and API may show: the prefix and the last 4 characters."""
    return f"{PREFIX}…{key[-4:]}"
