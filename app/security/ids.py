"""Random public identifiers (request ids, tenant ids, credential ids): a prefix + base62.

One ``os.urandom`` call per id (reading the kernel's random source is the slow part, not the encoding).
"""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 24) -> str:
    """``length`` base62 characters (~143 bits for 24) after ``prefix_``."""
    number = int.from_bytes(secrets.token_bytes(length), "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return prefix + "_" + "".join(chars)
