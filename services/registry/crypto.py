"""Identity numbers (GB 11643), blind indexes and password hashing (sealing lives in shared.crypto)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}-?[0-9]{7,8}$")


class IdNumberError(ValueError):
    pass


def id_check_digit(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def parse_id_number(raw: str) -> tuple[str, date, str]:
    """Validate a resident identity number; return (normalised number, birth date, gender M/F)."""
    num = raw.strip().upper()
    if not _ID_SHAPE.match(num):
        raise IdNumberError("an identity number is 18 characters: 17 digits then a digit or X")
    try:
        born = date(int(num[6:10]), int(num[10:12]), int(num[12:14]))
    except ValueError:
        raise IdNumberError(f"digits 7–14 ({num[6:14]}) are not a real birth date") from None
    if born.year < 1890 or born > date.today():
        raise IdNumberError(f"birth date {born.isoformat()} is out of range")
    expected = id_check_digit(num[:17])
    if num[17] != expected:
        raise IdNumberError(
            f"check digit is wrong: the GB 11643 check digit for these 17 digits is {expected}"
        )
    gender = "M" if int(num[16]) % 2 == 1 else "F"
    return num, born, gender


def mask_id(num: str) -> str:
    return num[:4] + "*" * 10 + num[-4:]


def normalize_phone(raw: str) -> str:
    p = raw.strip().replace(" ", "")
    if p.startswith("+86"):
        p = p[3:]
    if not (_MOBILE.match(p) or _LANDLINE.match(p)):
        raise ValueError(
            "a phone is an 11-digit mainland mobile (1[3-9]xxxxxxxxx) or a landline like 0519-88001234"
        )
    return p


def mask_phone(p: str | None) -> str | None:
    if not p:
        return p
    if _MOBILE.match(p):
        return p[:3] + "****" + p[-4:]
    return p[:-4].rstrip("-")[:5] + "****" + p[-4:] if len(p) > 8 else "****" + p[-4:]


class BlindIndex:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode(), hashlib.sha256).digest()


# OWASP's argon2id guidance (m=19 MiB, t=2, p=1): a login costs ~20 ms, a stolen hash far more.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


# A hash to verify against when the username is unknown, so timing does not reveal which names exist.
DUMMY_HASH = _hasher.hash(base64.b64encode(os.urandom(16)).decode())
