"""`Annotated` dependency aliases for the mobile handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile.clients.dispatch import DispatchClient
from services.mobile.clients.registry import RegistryClient
from services.mobile.clients.wishes import WishesClient
from services.mobile.errors import TokenInvalid
from services.mobile.settings import MobileSettings
from services.mobile.tokens import Resident
from shared.db import get_read_session, get_session

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ResidentToken",
    description="A resident access token from `POST /m/v1/auth/wechat` (or `/m/v1/auth/refresh`).",
)


async def current_resident(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Resident:
    if creds is None or creds.scheme.lower() != "bearer":
        raise TokenInvalid("Send the resident access token as `Authorization: Bearer <token>`.")
    resident = request.app.state.tokens.verify(creds.credentials)
    if not await request.app.state.sessions.live(resident.session_id, resident.account_id):
        raise TokenInvalid("This session has ended (logged out or expired): log in again.")
    return resident


async def _settings(request: Request) -> MobileSettings:
    return request.app.state.settings


async def _registry(request: Request) -> RegistryClient:
    return request.app.state.registry


async def _dispatch(request: Request) -> DispatchClient:
    return request.app.state.dispatch


async def _wishes(request: Request) -> WishesClient:
    return request.app.state.wishes


CurrentResident = Annotated[Resident, Depends(current_resident)]
SettingsDep = Annotated[MobileSettings, Depends(_settings)]
RegistryDep = Annotated[RegistryClient, Depends(_registry)]
DispatchDep = Annotated[DispatchClient, Depends(_dispatch)]
WishesDep = Annotated[WishesClient, Depends(_wishes)]
