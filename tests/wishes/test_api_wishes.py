"""The wish flow through the API: 居民点单、网格派单、成员单位接单、完成销单, every transition and refusal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from services.wishes import workflow as wf
from services.wishes.models import STATUSES, Wish, WishEvent, WishPhoto
from tests.wishes.builders import (
    OTHER_COMMUNITY,
    STREET,
    image_bytes,
    make_unit,
    make_volunteer,
    upload_photo,
)
from tests.wishes.helpers import Actors, act, ok, submit, wish_in

PROBLEM = "application/problem+json"


@pytest.fixture
async def a(token):
    return Actors(token)


@pytest.fixture
async def unit(session, world):
    u = await make_unit(session, "MU001", name="龙锦社区卫生服务站")
    await session.commit()
    return u


@pytest.fixture
def resident(world):
    return world.residents[0]  # grid 320411001001001, community 龙锦


async def count(session, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return (await session.execute(stmt)).scalar_one()


class TestWholeLoop:
    async def test_order_dispatch_claim_complete_confirm_close_leaves_a_trail(
        self, wishes, a, unit, resident
    ):
        w = await submit(wishes, a.grid, resident.id, privacy=True, contact_phone="13912345678")
        assert w["status"] == "submitted" and w["source"] == "grid_worker"
        assert w["resident_name"] == resident.name and w["grid_code"] == "320411001001001"
        assert w["community_name"] == "龙锦社区" and w["allowed_actions"] == ["approve", "reject", "cancel"]
        wid = w["id"]
        await ok(wishes, a.grid, wid, "approve", {"note": "符合条件"})
        await ok(wishes, a.grid, wid, "publish")
        claimed = await ok(wishes, a.liaison, wid, "claim", {"note": "我单位认领"})
        assert claimed["claimant"] == {"kind": "unit", "id": unit.id, "name": "龙锦社区卫生服务站"}
        await ok(wishes, a.liaison, wid, "start")
        photo = await upload_photo(wishes, a.liaison)
        done = await ok(
            wishes, a.liaison, wid, "complete", {"note": "轮椅已送到", "proof_photo_ids": [photo]}
        )
        assert done["proof_photos"] == [f"/api/v1/photos/{photo}"]
        await ok(wishes, a.mobile, wid, "confirm", {"resident_id": resident.id})
        closed = await ok(wishes, a.grid, wid, "close")
        assert closed["status"] == "closed" and closed["closed_at"] and closed["allowed_actions"] == []
        r = await wishes.get(f"/api/v1/wishes/{wid}/events", headers=a.grid)
        steps = [(e["action"], e["from_status"], e["to_status"]) for e in r.json()]
        assert steps == [
            ("submit", None, "submitted"),
            ("approve", "submitted", "approved"),
            ("publish", "approved", "published"),
            ("claim", "published", "claimed"),
            ("start", "claimed", "in_progress"),
            ("complete", "in_progress", "completed"),
            ("confirm", "completed", "confirmed"),
            ("close", "confirmed", "closed"),
        ]
        assert r.json()[1]["label"] == "审核通过" and r.json()[1]["note"] == "符合条件"

    async def test_the_mobile_service_orders_for_a_resident(self, wishes, a, resident):
        w = await submit(wishes, a.mobile, resident.id)
        assert w["source"] == "mini_program" and w["submitted_by"] == "svc-mobile"


BODY = {
    "category": "助老",
    "title": "需要一台轮椅",
    "description": "想要一台折叠轮椅。",
    "estimated_value": "600",
}


class TestSubmittingTwice:
    """A caller that lost the answer sends 点单 again with the same Idempotency-Key, maybe much later."""

    async def post(self, wishes, headers, resident_id, key, **kw):
        body = {**BODY, "resident_id": resident_id, **kw}
        return await wishes.post("/api/v1/wishes", headers={**headers, "Idempotency-Key": key}, json=body)

    async def test_a_retry_with_the_key_gets_the_wish_already_made_even_after_it_moved_on(
        self, wishes, session, a, resident
    ):
        first = await self.post(wishes, a.mobile, resident.id, "7:3f2b8c1e-7d4a")
        assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
        wid = first.json()["id"]
        assert first.headers["Location"] == f"/api/v1/wishes/{wid}"
        await ok(wishes, a.grid, wid, "approve")
        # photos uploaded again by the retry do not make it a different wish
        again = await self.post(wishes, a.mobile, resident.id, "7:3f2b8c1e-7d4a", estimated_value="600.00")
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == wid and again.json()["status"] == "approved"
        assert await count(session, Wish, resident_id=resident.id) == 1
        assert await count(session, WishEvent, wish_id=wid, action="submit") == 1

    async def test_the_same_key_for_another_wish_is_a_422_naming_the_first(
        self, wishes, session, a, resident
    ):
        wid = (await self.post(wishes, a.mobile, resident.id, "key-0000-0001")).json()["id"]
        r = await self.post(wishes, a.mobile, resident.id, "key-0000-0001", title="需要一个助行器")
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("/idempotency-key-reused") and r.json()["wish_id"] == wid
        assert str(wid) in r.json()["detail"]
        assert await count(session, Wish, resident_id=resident.id) == 1

    async def test_keys_belong_to_their_caller(self, wishes, session, a, resident):
        mine = await self.post(wishes, a.mobile, resident.id, "shared-key-01")
        theirs = await self.post(wishes, a.grid, resident.id, "shared-key-01")
        assert (mine.status_code, theirs.status_code) == (201, 201)
        assert mine.json()["id"] != theirs.json()["id"]
        assert await count(session, Wish, resident_id=resident.id) == 2

    async def test_without_a_key_each_request_is_a_new_wish(self, wishes, session, a, resident):
        await submit(wishes, a.grid, resident.id)
        await submit(wishes, a.grid, resident.id)
        assert await count(session, Wish, resident_id=resident.id) == 2

    @pytest.mark.parametrize("key", ["short", "x" * 101, "has space in it", "中文的幂等键值"])
    async def test_a_malformed_key_is_a_422_naming_the_header(self, wishes, session, a, resident, key):
        r = await wishes.post(
            "/api/v1/wishes",
            headers={**a.mobile, "Idempotency-Key": key.encode()},
            json={**BODY, "resident_id": resident.id},
        )
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert [x.lower() for x in r.json()["errors"][0]["loc"]] == ["header", "idempotency-key"]
        assert await count(session, Wish, resident_id=resident.id) == 0


class TestEveryTransition:
    """Each cell of the table: from every state, every action either moves the wish as the table says
    or is a 409 naming the actions that are allowed."""

    @pytest.mark.parametrize("status", [s for s in STATUSES])
    async def test_actions_from_each_state(self, wishes, a, unit, resident, session, status):
        w = await wish_in(wishes, a, resident.id, status)
        wid = w["id"]
        bodies = {
            "complete": {"note": "已完成", "proof_photo_ids": [await upload_photo(wishes, a.admin)]},
            "claim": {"unit_id": unit.id},
        }
        for name, action in wf.ACTIONS.items():
            if wf.SYSTEM in action.roles:
                continue  # the job's own steps have no endpoint
            if status in action.sources:
                continue  # allowed moves are walked by the other tests
            r = await act(wishes, a.admin, wid, name, bodies.get(name, {"note": "测试理由"}))
            assert r.status_code == 409, (status, name, r.text)
            assert r.headers["content-type"] == PROBLEM
            body = r.json()
            assert body["status_now"] == status and name in body["detail"]
            assert body["allowed"] == wf.allowed_actions(status, "community_admin")
        assert (await wishes.get(f"/api/v1/wishes/{wid}", headers=a.grid)).json()["status"] == status

    async def test_reject_needs_a_reason_and_is_final(self, wishes, a, resident):
        w = await submit(wishes, a.grid, resident.id)
        r = await act(wishes, a.grid, w["id"], "reject", {})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        rejected = await ok(wishes, a.grid, w["id"], "reject", {"note": "属于政策救助，已转民政"})
        assert rejected["status"] == "rejected" and rejected["review_note"] == "属于政策救助，已转民政"

    async def test_withdraw_puts_the_wish_back_on_the_wall_and_records_who_held_it(
        self, wishes, a, unit, resident
    ):
        w = await wish_in(wishes, a, resident.id, "in_progress")
        back = await ok(wishes, a.liaison, w["id"], "withdraw", {"note": "本单位人手不足"})
        assert back["status"] == "published" and back["claimant"] is None and back["started_at"] is None
        events = (await wishes.get(f"/api/v1/wishes/{w['id']}/events", headers=a.grid)).json()
        assert (
            events[-1]["action"] == "withdraw"
            and events[-1]["data"]["previous"]["claimant_unit_id"] == unit.id
        )
        # and it can be claimed again
        await ok(wishes, a.liaison, w["id"], "claim")

    async def test_dispute_sends_it_back_to_work_and_a_second_completion_replaces_the_proof(
        self, wishes, a, unit, resident, session
    ):
        w = await wish_in(wishes, a, resident.id, "completed")
        back = await ok(
            wishes, a.mobile, w["id"], "dispute", {"resident_id": resident.id, "note": "轮椅尺寸不合适"}
        )
        assert back["status"] == "in_progress" and back["completed_at"] is None
        photo = await upload_photo(wishes, a.liaison, "PNG")
        again = await ok(
            wishes, a.liaison, w["id"], "complete", {"note": "已换小号", "proof_photo_ids": [photo]}
        )
        assert again["proof_photos"] == [f"/api/v1/photos/{photo}"]
        assert await count(session, WishPhoto, wish_id=w["id"], kind="proof") == 1

    @pytest.mark.parametrize("status", ["submitted", "approved", "published", "claimed", "in_progress"])
    async def test_cancel_with_a_reason_from_every_open_state(self, wishes, a, unit, resident, status):
        w = await wish_in(wishes, a, resident.id, status)
        c = await ok(wishes, a.mobile, w["id"], "cancel", {"resident_id": resident.id, "note": "已自行解决"})
        assert c["status"] == "cancelled" and c["cancel_reason"] == "已自行解决" and c["claimant"] is None

    async def test_a_street_dispatcher_may_cancel_but_not_review(self, wishes, a, resident):
        w = await submit(wishes, a.grid, resident.id)
        r = await act(wishes, a.street, w["id"], "approve")
        assert r.status_code == 403 and r.json()["allowed"] == ["cancel"]
        await ok(wishes, a.street, w["id"], "cancel", {"note": "重复提交"})


class TestClaims:
    async def test_a_second_claim_is_refused_and_the_first_claimant_keeps_it(
        self, wishes, a, unit, resident, session, token
    ):
        other = await make_unit(session, "MU002")
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "published")
        await ok(wishes, a.liaison, w["id"], "claim")
        r = await act(wishes, token("unit_liaison", "MU002"), w["id"], "claim")
        assert r.status_code == 409 and r.json()["type"].endswith("/wish-already-claimed")
        held = (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.grid)).json()
        assert held["claimant"]["id"] == unit.id and other.id != unit.id
        assert await count(session, WishEvent, wish_id=w["id"], action="claim") == 1

    async def test_a_claim_on_a_wish_that_is_not_published_is_refused(self, wishes, a, unit, resident):
        w = await wish_in(wishes, a, resident.id, "approved")
        r = await act(wishes, a.admin, w["id"], "claim", {"unit_id": unit.id})
        assert r.status_code == 409 and r.json()["type"].endswith("/transition-not-allowed")

    async def test_a_unit_of_another_community_may_not_claim(self, wishes, a, unit, resident, session, token):
        await make_unit(session, "MU009", area_code=OTHER_COMMUNITY)
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "published")
        r = await act(wishes, token("unit_liaison", "MU009"), w["id"], "claim")
        assert r.status_code == 403 and r.json()["type"].endswith("/out-of-scope")
        assert "MU009" in r.json()["detail"]

    async def test_a_street_level_unit_may_claim_in_any_community_of_its_street(
        self, wishes, a, resident, session, token
    ):
        await make_unit(session, "MU100", area_code=STREET, kind="党政机关")
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "published")
        await ok(wishes, token("unit_liaison", "MU100"), w["id"], "claim")

    async def test_a_directed_wish_is_only_for_the_chosen_units(
        self, wishes, a, unit, resident, session, token
    ):
        chosen = await make_unit(session, "MU003")
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "approved")
        p = await ok(wishes, a.grid, w["id"], "publish", {"unit_ids": [chosen.id]})
        assert p["directed"] and p["target_unit_ids"] == [chosen.id]
        r = await act(wishes, a.liaison, w["id"], "claim")
        assert r.status_code == 403 and "directed" in r.json()["detail"]
        wall = (await wishes.get("/api/v1/wishes/wall", headers=a.liaison)).json()
        assert wall["total"] == 0
        wall = (await wishes.get("/api/v1/wishes/wall", headers=token("unit_liaison", "MU003"))).json()
        assert [c["id"] for c in wall["items"]] == [w["id"]]
        await ok(wishes, token("unit_liaison", "MU003"), w["id"], "claim")

    async def test_publishing_to_a_unit_that_does_not_serve_the_area_is_refused(
        self, wishes, a, resident, session
    ):
        far = await make_unit(session, "MU010", area_code=OTHER_COMMUNITY)
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "approved")
        r = await act(wishes, a.grid, w["id"], "publish", {"unit_ids": [far.id, 999_999]})
        assert r.status_code == 422 and str(far.id) in r.json()["detail"] and "999999" in r.json()["detail"]
        assert (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.grid)).json()["status"] == "approved"

    async def test_a_liaison_may_not_claim_in_another_units_name(self, wishes, a, unit, resident, session):
        other = await make_unit(session, "MU002")
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "published")
        r = await act(wishes, a.liaison, w["id"], "claim", {"unit_id": other.id})
        assert r.status_code == 403

    async def test_another_unit_may_not_start_or_complete_a_claimed_wish(
        self, wishes, a, unit, resident, session, token
    ):
        await make_unit(session, "MU002")
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "claimed")
        r = await act(wishes, token("unit_liaison", "MU002"), w["id"], "start")
        assert r.status_code in (403, 404)
        assert (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.grid)).json()["status"] == "claimed"

    async def test_grid_staff_record_a_volunteers_claim_and_the_volunteer_is_served_by_default(
        self, wishes, a, resident, session
    ):
        v = await make_volunteer(session, "王党员")
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "published")
        c = await ok(wishes, a.grid, w["id"], "claim", {"volunteer_id": v.id})
        assert c["claimant"] == {"kind": "volunteer", "id": v.id, "name": "王党员"}
        await ok(wishes, a.grid, w["id"], "start")
        photo = await upload_photo(wishes, a.grid)
        done = await ok(
            wishes, a.grid, w["id"], "complete", {"note": "已陪同就医", "proof_photo_ids": [photo]}
        )
        assert done["served"] == [{"volunteer_id": v.id, "hours": 0.0}]

    async def test_a_volunteer_of_another_community_may_not_claim(self, wishes, a, resident, session):
        v = await make_volunteer(session, "外社区", area_code=OTHER_COMMUNITY)
        await session.commit()
        w = await wish_in(wishes, a, resident.id, "published")
        r = await act(wishes, a.grid, w["id"], "claim", {"volunteer_id": v.id})
        assert r.status_code == 403

    async def test_staff_must_say_who_claims(self, wishes, a, resident):
        w = await wish_in(wishes, a, resident.id, "published")
        r = await act(wishes, a.grid, w["id"], "claim")
        assert r.status_code == 422 and "unit_id" in r.json()["detail"]


class TestPrivacy:
    async def test_a_private_wish_shows_no_name_or_address_until_the_unit_claims_it(
        self, wishes, a, unit, resident
    ):
        w = await wish_in(wishes, a, resident.id, "published", privacy=True, contact_phone="13912345678")
        wall = (await wishes.get("/api/v1/wishes/wall", headers=a.liaison)).json()
        card = wall["items"][0]
        assert card["resident_name"] is None and card["resident_address"] is None and card["privacy"]
        seen = (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.liaison)).json()
        assert (
            seen["resident_name"] is None
            and seen["resident_address"] is None
            and seen["contact_phone"] is None
        )
        assert seen["resident_id"] is None
        await ok(wishes, a.liaison, w["id"], "claim")
        seen = (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.liaison)).json()
        assert seen["resident_name"] == resident.name and seen["contact_phone"] == "13912345678"
        assert seen["resident_address"]

    async def test_a_public_wish_shows_a_masked_name_and_the_address(self, wishes, a, unit, resident):
        await wish_in(wishes, a, resident.id, "published")
        card = (await wishes.get("/api/v1/wishes/wall", headers=a.mobile)).json()["items"][0]
        assert card["resident_name"] == resident.name[0] + "*" * (len(resident.name) - 1)
        assert card["resident_address"]

    async def test_a_unit_cannot_read_wishes_it_neither_holds_nor_is_offered(self, wishes, a, unit, resident):
        w = await wish_in(wishes, a, resident.id, "approved")
        r = await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.liaison)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        listing = (await wishes.get("/api/v1/wishes", headers=a.liaison)).json()
        assert listing["total"] == 0

    async def test_a_unit_reads_the_trail_without_staff_accounts(self, wishes, a, unit, resident):
        w = await wish_in(wishes, a, resident.id, "claimed")
        events = (await wishes.get(f"/api/v1/wishes/{w['id']}/events", headers=a.liaison)).json()
        assert {e["actor"] for e in events} <= {"grid_worker", "unit_liaison"}


class TestWall:
    async def test_newest_first_filtered_by_community_and_category(self, wishes, a, unit, world, token):
        first = await wish_in(wishes, a, world.residents[0].id, "published")
        second = await wish_in(
            wishes, Actors(token, grid="320411001001002"), world.residents[8].id, "published", category="助学"
        )
        far = Actors(token, grid="320411002001001")
        await wish_in(wishes, far, world.residents[16].id, "approved")
        await ok(wishes, far.grid, (await submit(wishes, far.grid, world.residents[17].id))["id"], "approve")
        page = (await wishes.get("/api/v1/wishes/wall?area_code=320411001001", headers=a.mobile)).json()
        assert [c["id"] for c in page["items"]] == [second["id"], first["id"]] and page["total"] == 2
        page = (await wishes.get("/api/v1/wishes/wall?category=助学", headers=a.mobile)).json()
        assert [c["id"] for c in page["items"]] == [second["id"]]
        assert page["items"][0]["grid_name"] == "龙锦第2网格"

    async def test_not_for_department_handlers(self, wishes, token):
        r = await wishes.get("/api/v1/wishes/wall", headers=token("department_handler", "CGJ"))
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM

    async def test_no_token_is_401(self, wishes):
        r = await wishes.get("/api/v1/wishes/wall")
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


class TestBadInput:
    @pytest.mark.parametrize(
        "patch, where",
        [
            ({"estimated_value": "-1"}, "estimated_value"),
            ({"category": "旅游"}, "category"),
            ({"title": "x"}, "title"),
            ({"description": "\x00\x00\x00\x00"}, "description"),
            ({"photo_ids": ["not-a-uuid"]}, "photo_ids"),
            ({"contact_phone": "12345"}, "contact_phone"),
            ({"resident_id": 0}, "resident_id"),
            ({"extra": 1}, "extra"),
        ],
    )
    async def test_bad_fields_are_422_and_nothing_is_stored(self, wishes, a, resident, session, patch, where):
        body = {
            "resident_id": resident.id,
            "category": "助老",
            "title": "轮椅",
            "description": "需要一台轮椅",
            **patch,
        }
        r = await wishes.post("/api/v1/wishes", headers=a.grid, json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert any(where in ".".join(map(str, e["loc"])) for e in r.json()["errors"]), r.json()
        assert await count(session, Wish) == 0

    async def test_wanted_by_in_the_past(self, wishes, a, resident, session):
        r = await wishes.post(
            "/api/v1/wishes",
            headers=a.grid,
            json={
                "resident_id": resident.id,
                "category": "助老",
                "title": "轮椅",
                "description": "需要一台轮椅",
                "wanted_by": str(date.today() - timedelta(days=3)),
            },
        )
        assert r.status_code == 422 and "wanted_by" in r.json()["detail"]
        assert await count(session, Wish) == 0

    async def test_an_unknown_resident(self, wishes, a, world, session):
        r = await wishes.post(
            "/api/v1/wishes",
            headers=a.grid,
            json={"resident_id": 999_999, "category": "助老", "title": "轮椅", "description": "需要一台轮椅"},
        )
        assert r.status_code == 422 and r.json()["type"].endswith("/resident-not-found")
        assert await count(session, Wish) == 0

    async def test_a_resident_outside_the_grid_workers_grid(self, wishes, a, world, session):
        r = await wishes.post(
            "/api/v1/wishes",
            headers=a.grid,
            json={
                "resident_id": world.residents[16].id,
                "category": "助老",
                "title": "轮椅",
                "description": "需要一台轮椅",
            },
        )
        assert r.status_code == 403 and r.json()["type"].endswith("/out-of-scope")
        assert await count(session, Wish) == 0

    async def test_a_unit_liaison_may_not_file_a_wish(self, wishes, a, unit, resident):
        r = await wishes.post(
            "/api/v1/wishes",
            headers=a.liaison,
            json={
                "resident_id": resident.id,
                "category": "助老",
                "title": "轮椅",
                "description": "需要一台轮椅",
            },
        )
        assert r.status_code == 403

    async def test_an_unknown_photo_id(self, wishes, a, resident, session):
        r = await wishes.post(
            "/api/v1/wishes",
            headers=a.grid,
            json={
                "resident_id": resident.id,
                "category": "助老",
                "title": "轮椅",
                "description": "需要一台轮椅",
                "photo_ids": ["00000000-0000-4000-8000-000000000000"],
            },
        )
        assert r.status_code == 422 and "POST /api/v1/photos" in r.json()["detail"]
        assert await count(session, Wish) == 0

    async def test_completion_without_proof_photos(self, wishes, a, unit, resident):
        w = await wish_in(wishes, a, resident.id, "in_progress")
        r = await act(wishes, a.liaison, w["id"], "complete", {"note": "已完成", "proof_photo_ids": []})
        assert r.status_code == 422
        assert (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.grid)).json()[
            "status"
        ] == "in_progress"

    async def test_the_mobile_service_must_name_the_resident_and_only_theirs(self, wishes, a, unit, world):
        w = await wish_in(wishes, a, world.residents[0].id, "completed")
        r = await act(wishes, a.mobile, w["id"], "confirm", {})
        assert r.status_code == 422 and "resident_id" in r.json()["detail"]
        r = await act(wishes, a.mobile, w["id"], "confirm", {"resident_id": world.residents[1].id})
        assert r.status_code == 404
        assert (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=a.grid)).json()["status"] == "completed"


class TestPhotos:
    async def test_a_text_file_named_jpg_is_refused(self, wishes, a, session):
        from services.wishes.models import Photo

        r = await wishes.post(
            "/api/v1/photos", headers=a.grid, files={"file": ("p.jpg", b"hello, not an image", "image/jpeg")}
        )
        assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
        assert await count(session, Photo) == 0

    async def test_a_gif_is_refused_by_its_content(self, wishes, a):
        r = await wishes.post(
            "/api/v1/photos", headers=a.grid, files={"file": ("p.png", image_bytes("GIF"), "image/png")}
        )
        assert r.status_code == 415 and "GIF" in r.json()["detail"]

    async def test_too_large(self, wishes, a, wishes_settings):
        big = b"\xff\xd8\xff" + b"0" * (wishes_settings.photo_max_bytes + 10)
        r = await wishes.post("/api/v1/photos", headers=a.grid, files={"file": ("p.jpg", big, "image/jpeg")})
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM

    async def test_the_location_in_exif_is_stripped(self, wishes, a):
        from io import BytesIO

        from PIL import Image

        raw = image_bytes("JPEG", exif_gps=True)
        assert Image.open(BytesIO(raw)).getexif().get(0x8825) is not None
        r = await wishes.post("/api/v1/photos", headers=a.grid, files={"file": ("p.jpg", raw, "image/jpeg")})
        assert r.status_code == 201 and r.json()["content_type"] == "image/jpeg"
        served = await wishes.get(r.json()["url"], headers=a.grid)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert not Image.open(BytesIO(served.content)).getexif()

    async def test_webp_and_png_are_accepted(self, wishes, a):
        for fmt in ("PNG", "WEBP"):
            await upload_photo(wishes, a.grid, fmt)


class TestTrail:
    async def test_the_trail_cannot_be_edited(self, wishes, a, resident, session):
        await submit(wishes, a.grid, resident.id)
        with pytest.raises(Exception, match="append-only"):
            async with session.begin_nested():
                await session.execute(text("UPDATE wishes.wish_event SET note = 'rewritten'"))
