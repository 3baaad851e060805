"""The wish wall of my community in the mini-program, and the signed photo links of wishes."""

from __future__ import annotations

import time

import pytest

from services.mobile.wishes.service import photo_link
from tests.mobile.residents import resident
from tests.wishes.builders import make_unit, upload_photo
from tests.wishes.helpers import Actors, ok, submit

PROBLEM = "application/problem+json"


@pytest.fixture
def staff(token):
    return Actors(token)


@pytest.fixture
async def me(mobile, session, world):
    return await resident(mobile, session, world, 0)  # community 龙锦 320411001001


@pytest.fixture
async def unit(session, world):
    u = await make_unit(session, "MU001", name="龙锦社区卫生服务站")
    await session.commit()
    return u


@pytest.fixture
def admins(token):
    """Community admins of both communities (they review and publish wishes of their area)."""

    class Admins:
        def __getitem__(self, area_code: str) -> dict[str, str]:
            return token("community_admin", area_code[:12], username=f"admin-{area_code[:12]}")

    return Admins()


async def on_wall(wishes, admins, world, i: int, **kw) -> dict:
    """The world's i-th resident's wish, approved and published to the open wall of their community."""
    headers = admins[world.residents[i].area_code]
    w = await submit(wishes, headers, world.residents[i].id, **kw)
    await ok(wishes, headers, w["id"], "approve")
    return await ok(wishes, headers, w["id"], "publish")


async def wall(mobile, me, **params) -> dict:
    r = await mobile.get("/m/v1/wishes/wall", params=params, headers=me.headers)
    assert r.status_code == 200, r.text
    return r.json()


class TestTheWall:
    async def test_it_shows_the_open_published_wishes_of_my_community_only(
        self, mobile, wishes, world, me, admins, unit
    ):
        mine = await on_wall(wishes, admins, world, 1)  # my household
        grid2 = await on_wall(wishes, admins, world, 8)  # another grid of 龙锦
        await on_wall(wishes, admins, world, 16)  # 春江: another community
        admin = admins["320411001001"]
        await submit(wishes, admin, world.residents[2].id)  # not yet reviewed
        directed = await submit(wishes, admin, world.residents[3].id)
        await ok(wishes, admin, directed["id"], "approve")
        await ok(wishes, admin, directed["id"], "publish", {"unit_ids": [unit.id]})  # offered to a unit only
        body = await wall(mobile, me)
        assert [c["id"] for c in body["items"]] == [grid2["id"], mine["id"]]
        assert body["next_cursor"] is None
        assert {c["grid_name"] for c in body["items"]} == {"龙锦第1网格", "龙锦第2网格"}

    async def test_names_are_masked_or_left_out_and_no_card_shows_an_address(
        self, mobile, wishes, world, me, admins
    ):
        await on_wall(wishes, admins, world, 1, privacy=True)
        await on_wall(wishes, admins, world, 2)
        private, public = (await wall(mobile, me))["items"][::-1]
        assert private["resident_name"] is None
        assert public["resident_name"] == world.residents[2].name[0] + "*" * (
            len(world.residents[2].name) - 1
        )
        for card in (private, public):
            assert "resident_address" not in card and "privacy" not in card
            assert set(card) == {
                "id", "category", "title", "description", "estimated_value", "wanted_by", "resident_name",
                "grid_name", "published_at", "photos",
            }  # fmt: skip

    async def test_category_filter(self, mobile, wishes, world, me, admins):
        await on_wall(wishes, admins, world, 1)
        study = await on_wall(wishes, admins, world, 2, category="助学")
        assert [c["id"] for c in (await wall(mobile, me, category="助学"))["items"]] == [study["id"]]
        r = await mobile.get("/m/v1/wishes/wall", params={"category": "买房"}, headers=me.headers)
        assert r.status_code == 422

    async def test_scrolling_neither_repeats_nor_skips_when_wishes_are_taken_or_added(
        self, mobile, wishes, world, me, admins, staff, unit
    ):
        ids = [(await on_wall(wishes, admins, world, i, title=f"心愿{i}号"))["id"] for i in range(1, 8)]
        newest_first = ids[::-1]
        p1 = await wall(mobile, me, limit=3)
        assert [c["id"] for c in p1["items"]] == newest_first[:3]
        await ok(wishes, staff.liaison, newest_first[0], "claim")  # one I saw leaves the wall
        await ok(wishes, staff.liaison, newest_first[1], "claim")
        fresh = await on_wall(wishes, admins, world, 9, title="新心愿")  # a new one arrives on top
        p2 = await wall(mobile, me, limit=3, cursor=p1["next_cursor"])
        assert [c["id"] for c in p2["items"]] == newest_first[3:6]
        p3 = await wall(mobile, me, limit=3, cursor=p2["next_cursor"])
        assert [c["id"] for c in p3["items"]] == newest_first[6:] and p3["next_cursor"] is None
        assert fresh["id"] == (await wall(mobile, me, limit=1))["items"][0]["id"]

    async def test_an_unbound_account_is_told_to_bind_first(self, mobile, session, world):
        guest = await resident(mobile, session, world, None)
        r = await mobile.get("/m/v1/wishes/wall", headers=guest.headers)
        assert r.status_code == 403 and r.json()["type"].endswith("/not-bound")


class TestPhotoLinks:
    async def test_a_wall_photo_opens_without_a_token(self, mobile, wishes, world, me, admins):
        pid = await upload_photo(wishes, admins["320411001001"])
        await on_wall(wishes, admins, world, 1, photo_ids=[pid])
        (card,) = (await wall(mobile, me))["items"]
        (link,) = card["photos"]
        assert link.startswith("http://mobile/m/v1/wishes/photos/" + pid)
        r = await mobile.get(link.removeprefix("http://mobile"))
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert "private" in r.headers["cache-control"]

    async def test_an_altered_or_expired_link_is_403(self, mobile, mobile_settings, wishes, admins):
        pid = await upload_photo(wishes, admins["320411001001"])
        url = photo_link(mobile_settings, f"/api/v1/photos/{pid}").removeprefix("http://mobile")
        other = await upload_photo(wishes, admins["320411001001"])
        r = await mobile.get(url.replace(pid, other))
        assert r.status_code == 403 and r.json()["type"].endswith("/photo-link-invalid")
        assert "altered" in r.json()["detail"]
        old = photo_link(mobile_settings, f"/api/v1/photos/{pid}", now=time.time() - 3 * 86400)
        r = await mobile.get(old.removeprefix("http://mobile"))
        assert r.status_code == 403 and "expired" in r.json()["detail"]

    async def test_a_link_without_its_signature_is_a_422(self, mobile, wishes, admins):
        pid = await upload_photo(wishes, admins["320411001001"])
        r = await mobile.get(f"/m/v1/wishes/photos/{pid}")
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
