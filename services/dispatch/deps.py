"""`Annotated` dependency aliases for dispatch's handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.errors import ActionForbidden
from services.dispatch.service.context import Dispatch
from shared.auth import CurrentStaff as CurrentStaff
from shared.auth import Principal
from shared.db import get_read_session, get_session

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# Autocommit: intake's single-statement insert and plain reads.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def _dispatch(request: Request) -> Dispatch:
    return request.app.state.dispatch


DispatchDep = Annotated[Dispatch, Depends(_dispatch)]


def require(principal: Principal, roles: tuple[str, ...], what: str) -> None:
    """Role check for an endpoint both the ticket and the 12345 APIs use: a clear 403 naming who may."""
    if principal.role not in roles:
        raise ActionForbidden(f"{what} is for {', '.join(roles)}; you are {principal.role}.")
