"""`Annotated` dependency aliases for the wishes handlers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes.clients import RegistryClient
from services.wishes.settings import WishesSettings
from shared.auth import CurrentStaff as CurrentStaff
from shared.db import get_read_session, get_session

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def _registry(request: Request) -> RegistryClient:
    return request.app.state.registry


async def _settings(request: Request) -> WishesSettings:
    return request.app.state.settings


RegistryDep = Annotated[RegistryClient, Depends(_registry)]
SettingsDep = Annotated[WishesSettings, Depends(_settings)]


def idempotency_key(description: str) -> Any:
    """The `Idempotency-Key` header of a POST that must not act twice (a wish, a redemption): one rule
    for what a key may be, each endpoint saying what a replay gets."""
    return Header(min_length=8, max_length=100, pattern=r"^[\x21-\x7e]+$", description=description)
