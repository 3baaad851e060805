from __future__ import annotations

from typing import Any

import pytest

from tests.registry.builders import World, make_world


@pytest.fixture
async def world(registry_app: Any, session: Any) -> World:
    w = await make_world(session, registry_app.state.codec)
    await session.commit()
    await registry_app.state.geo.refresh_if_stale(registry_app.state.sessionmaker)
    return w
