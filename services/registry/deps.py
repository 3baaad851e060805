"""`Annotated` dependency aliases for the registry's handlers.

The accessors are `async def` although they only read app state: FastAPI runs a plain `def`
dependency in the thread pool, a thread hop per request on hot paths like /locate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.service.accounts import TokenIssuer
from services.registry.service.geo import LocationIndex
from services.registry.service.people import PiiCodec
from services.registry.settings import RegistrySettings
from shared.auth import CurrentStaff as CurrentStaff
from shared.db import get_read_session, get_session

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def _codec(request: Request) -> PiiCodec:
    return request.app.state.codec


async def _index(request: Request) -> LocationIndex:
    return request.app.state.geo


async def _settings(request: Request) -> RegistrySettings:
    return request.app.state.settings


async def _issuer(request: Request) -> TokenIssuer:
    return request.app.state.issuer


CodecDep = Annotated[PiiCodec, Depends(_codec)]
IndexDep = Annotated[LocationIndex, Depends(_index)]
SettingsDep = Annotated[RegistrySettings, Depends(_settings)]
IssuerDep = Annotated[TokenIssuer, Depends(_issuer)]
