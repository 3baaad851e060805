"""Annotated field types that stop bad input before it reaches PostgreSQL (every service uses them)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field


def no_nul(v: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here gives a 422 instead of a driver error (a 500).
    if "\x00" in v:
        raise ValueError("text must not contain NUL characters")
    return v


def trimmed(v: str) -> str:
    v = no_nul(v).strip()
    if not v:
        raise ValueError("must not be blank")
    return v


PrimaryKey = Annotated[int, Field(gt=0, lt=2147483647)]
BigKey = Annotated[int, Field(gt=0, lt=9223372036854775807)]
Text = Annotated[str, AfterValidator(no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(trimmed)]
