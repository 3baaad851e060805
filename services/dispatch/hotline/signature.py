"""The signature scheme of the 12345 integration, both directions (the usual shape of government APIs).

    X-App-Key    which key signed
    X-Timestamp  unix seconds; refused outside ±300 s of our clock
    X-Nonce      16–64 characters, never reused with the same key
    X-Signature  lowercase hex HMAC-SHA256(app_secret, METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(SHA256(body)))

PATH is the request path exactly as sent, without scheme, host or query string.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

NONCE = re.compile(r"^[\x21-\x7e]{16,64}$")
SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
APP_KEY = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()))


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    msg = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, signature: str, canonical: str) -> bool:
    expected = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def signed_headers(app_key: str, secret: str, method: str, path: str, body: bytes) -> dict[str, str]:
    """Headers for a request we send (the callbacks), with a fresh timestamp and nonce."""
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    return {
        "X-App-Key": app_key,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path, ts, nonce, body),
    }
