"""Dispatch's copy of the registry's map: loaded over REST, refreshed by revision, used by intake."""

from __future__ import annotations

import httpx
import pytest

from services.dispatch.app import create_app
from services.dispatch.service import places

pytestmark = pytest.mark.asyncio

INSIDE = {"lat": 31.8116, "lng": 119.951}  # micro-grid 320411001001001001


class _NoLocate(httpx.AsyncBaseTransport):
    """The network to the registry, except that /api/v1/locate cannot be reached."""

    def __init__(self, registry_app) -> None:
        self.inner = httpx.ASGITransport(app=registry_app)
        self.locate_calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/locate":
            self.locate_calls += 1
            raise httpx.ConnectError("locate unreachable", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def app_without_locate(dispatch_settings, dispatch_app, registry_app, maker, world):
    transport = _NoLocate(registry_app)
    app = create_app(
        dispatch_settings,
        sessionmaker=maker,
        registry_transport=transport,
        background=False,
        configure_logs=False,
    )
    async with app.router.lifespan_context(app):
        app.state.transport = transport
        yield app


class TestMapCopy:
    async def test_loads_at_start_and_refreshes_only_when_the_revision_moves(self, app_without_locate):
        env = app_without_locate.state.dispatch
        assert env.map.loaded and env.map.rev is not None
        assert await places.refresh(env.map, env.registry) is False  # 304: unchanged

    async def test_places_a_point_with_its_whole_area_chain(self, app_without_locate):
        place = app_without_locate.state.dispatch.map.locate(**INSIDE)
        assert place is not None
        assert place.micro_grid.code == "320411001001001001"
        assert place.grid.name == "龙锦第1网格" and place.street.name == "三井街道"
        assert place.district.code == "320411"

    async def test_intake_places_points_without_asking_locate(self, app_without_locate, token):
        transport = httpx.ASGITransport(app=app_without_locate)
        async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as client:
            r = await client.post(
                "/api/v1/tickets",
                json={"channel": "patrol", "text": "路口那堆垃圾好几天了没人清，臭得不行", **INSIDE},
                headers=token("grid_worker", "320411001001001"),
            )
            assert r.status_code == 201, r.text
            assert r.json()["place"]["status"] == "resolved"
            assert r.json()["place"]["micro_grid_code"] == "320411001001001001"
            assert app_without_locate.state.transport.locate_calls == 0

            # an address-only report still needs /locate: unreachable, so the place waits for the retry job
            r = await client.post(
                "/api/v1/tickets",
                json={"channel": "phone", "text": "小区门口垃圾桶满了没人倒", "address": "测试苑1幢"},
                headers=token("street_dispatcher", "320411001"),
            )
            assert r.status_code == 201
            assert r.json()["place"]["status"] == "pending"
            assert app_without_locate.state.transport.locate_calls >= 1
