"""AES-256-GCM encryption of provider secrets, with key ids for rotation and AAD binding.

Each ciphertext records the id of the key that sealed it, so keys listed in KILLTOKEN_ENCRYPTION_KEYS keep
decrypting after the current key changes. The associated data binds a ciphertext to its tenant, credential and
provider: copied onto another tenant's (or credential's) record it fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.config import ConfigError


class CredentialDecryptError(Exception):
    """The record cannot be opened with any known key (wrong key, tampered, or moved to another record)."""


def _parse_key(spec: str, setting: str) -> tuple[str, bytes]:
    kid, sep, material = spec.strip().rpartition(":")
    if not sep:
        kid, material = "", spec.strip()
    try:
        key = base64.b64decode(material, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{setting}: not valid base64") from None
    if len(key) != 32:
        raise ConfigError(f"{setting}: the key must be 32 bytes (AES-256), base64-encoded")
    return (kid or hashlib.sha256(key).hexdigest()[:8]), key


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]
    ephemeral: bool = False

    @classmethod
    def from_settings(cls, current: str | None, older: str, allow_ephemeral: bool) -> Keyring:
        if not current:
            if not allow_ephemeral:
                raise ConfigError("KILLTOKEN_ENCRYPTION_KEY: required when KILLTOKEN_MONGODB_URI is set "
                                  "(generate one with: python -c \"import os,base64;"
                                  "print(base64.b64encode(os.urandom(32)).decode())\")")
            key = os.urandom(32)
            return cls(current_id="ephemeral", keys={"ephemeral": key}, ephemeral=True)
        kid, key = _parse_key(current, "KILLTOKEN_ENCRYPTION_KEY")
        keys = {kid: key}
        for spec in filter(None, (part.strip() for part in older.split(","))):
            old_id, old_key = _parse_key(spec, "KILLTOKEN_ENCRYPTION_KEYS")
            keys.setdefault(old_id, old_key)
        return cls(current_id=kid, keys=keys)


def associated_data(tenant_id: str, credential_id: str, provider: str) -> bytes:
    return f"killtoken/credential/v1|{tenant_id}|{credential_id}|{provider}".encode()


def seal(keyring: Keyring, secrets: dict[str, Any], aad: bytes) -> dict[str, str]:
    nonce = os.urandom(12)
    plaintext = json.dumps(secrets, separators=(",", ":"), sort_keys=True).encode()
    ciphertext = AESGCM(keyring.keys[keyring.current_id]).encrypt(nonce, plaintext, aad)
    return {
        "kid": keyring.current_id,
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


def open_sealed(keyring: Keyring, sealed: dict[str, str], aad: bytes) -> dict[str, Any]:
    key = keyring.keys.get(sealed.get("kid", ""))
    if key is None:
        raise CredentialDecryptError("the key that sealed this credential is not configured")
    try:
        plaintext = AESGCM(key).decrypt(base64.b64decode(sealed["nonce"]),
                                        base64.b64decode(sealed["ciphertext"]), aad)
    except (InvalidTag, KeyError, ValueError, binascii.Error):
        raise CredentialDecryptError("the credential does not decrypt for this record") from None
    return json.loads(plaintext)
