"""`Annotated` dependency aliases for the registry's handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.service.accounts import TokenIssuer
from services.registry.service.geo import LocationIndex
from services.registry.service.people import PiiCodec
from services.registry.settings import RegistrySettings
from shared.auth import CurrentStaff as CurrentStaff
from shared.db import get_session

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def _codec(request: Request) -> PiiCodec:
    return request.app.state.codec


def _index(request: Request) -> LocationIndex:
    return request.app.state.geo


def _settings(request: Request) -> RegistrySettings:
    return request.app.state.settings


def _issuer(request: Request) -> TokenIssuer:
    return request.app.state.issuer


CodecDep = Annotated[PiiCodec, Depends(_codec)]
IndexDep = Annotated[LocationIndex, Depends(_index)]
SettingsDep = Annotated[RegistrySettings, Depends(_settings)]
IssuerDep = Annotated[TokenIssuer, Depends(_issuer)]
