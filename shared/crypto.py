"""Sealing secrets at rest: AES-256-GCM with a key from the environment, so a database dump alone does
not reveal what was sealed (resident identity numbers, signing keys, 12345 app secrets)."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Sealer", "decode_key"]


def decode_key(value: str, name: str) -> bytes:
    """A 32-byte key given as URL-safe base64 (43 characters, padding optional); refuses placeholders."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} must be url-safe base64") from None
    if len(raw) != 32:
        raise ValueError(f"{name} must decode to exactly 32 random bytes (got {len(raw)})")
    if len(set(raw)) < 8:
        raise ValueError(f"{name} looks like a placeholder, not random bytes")
    return raw


class Sealer:
    """AES-256-GCM with a random 96-bit nonce; the output says its version for future key rotation."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, aad: bytes = b"") -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), aad or None)
        return "v1:" + base64.urlsafe_b64encode(nonce + ct).decode()

    def open(self, sealed: str, aad: bytes = b"") -> str:
        if not sealed.startswith("v1:"):
            raise ValueError("unknown sealed-value version")
        raw = base64.urlsafe_b64decode(sealed[3:])
        return self._aead.decrypt(raw[:12], raw[12:], aad or None).decode()
