"""微心愿 in the mini-program: a bound resident makes a wish with photos, follows it and answers it, through
the real mobile, wishes and registry services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from services.mobile.models import WishRequest
from services.mobile.wishes.schemas import today_cst
from services.wishes.models import Wish, WishPhoto
from tests.mobile.residents import resident
from tests.wishes.builders import image_bytes, make_unit
from tests.wishes.helpers import Actors, ok, submit, wish_in

PROBLEM = "application/problem+json"

FORM = {
    "category": "助老",
    "title": "需要一台轮椅",
    "description": "老伴中风后行动不便，想要一台折叠轮椅。",
    "estimated_value": "600.00",
}


def jpeg(name: str = "p.jpg") -> tuple[str, tuple[str, bytes, str]]:
    return ("photos", (name, image_bytes(), "image/jpeg"))


@pytest.fixture
async def me(mobile, session, world):
    return await resident(mobile, session, world, 0)


@pytest.fixture
def staff(token):
    return Actors(token)


@pytest.fixture
async def unit(session, world):
    u = await make_unit(session, "MU001", name="龙锦社区卫生服务站")
    await session.commit()
    return u


async def wishes_of(session, resident_id: int) -> int:
    return (
        await session.execute(select(func.count()).select_from(Wish).where(Wish.resident_id == resident_id))
    ).scalar_one()


async def make(mobile, me, files=(), headers=None, **fields) -> dict:
    r = await mobile.post(
        "/m/v1/wishes", data={**FORM, **fields}, files=list(files), headers={**me.headers, **(headers or {})}
    )
    assert r.status_code == 201, r.text
    return r.json()


class TestMakingAWish:
    async def test_a_bound_resident_makes_a_wish_with_photos_that_waits_for_review(
        self, mobile, wishes, me, staff
    ):
        w = await make(mobile, me, files=[jpeg(), jpeg("b.png")], privacy="true", wanted_by=str(today_cst()))
        assert w["status"] == "submitted" and w["status_label"] == "待审核"
        assert w["actions"] == ["withdraw"] and w["privacy"] is True
        assert [(s["label"], s["by"]) for s in w["trail"]] == [("点单", "我")]
        assert len(w["photos"]) == 2 and all("/m/v1/wishes/photos/" in u for u in w["photos"])
        staff_view = (await wishes.get(f"/api/v1/wishes/{w['id']}", headers=staff.grid)).json()
        assert staff_view["resident_id"] == me.resident.id and staff_view["source"] == "mini_program"
        assert staff_view["grid_code"] == "320411001001001" and len(staff_view["photos"]) == 2

    async def test_an_unbound_account_is_told_to_bind_first(self, mobile, session, world):
        guest = await resident(mobile, session, world, None)
        r = await mobile.post("/m/v1/wishes", data=FORM, headers=guest.headers)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("/not-bound") and "binding" in r.json()["detail"]

    async def test_without_a_token_it_is_401(self, mobile):
        r = await mobile.post("/m/v1/wishes", data=FORM)
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("estimated_value", "-1"),
            ("estimated_value", "1.234"),
            ("category", "买房"),
            ("title", "x"),
            ("description", "  "),
            ("wanted_by", "2020-01-01"),
            ("contact_phone", "12345"),
        ],
    )
    async def test_a_bad_field_is_a_422_naming_it_and_no_wish_is_made(
        self, mobile, session, me, field, value
    ):
        r = await mobile.post("/m/v1/wishes", data={**FORM, field: value}, headers=me.headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
        assert any(e["loc"][-1] == field for e in r.json()["errors"]), r.json()
        assert await wishes_of(session, me.resident.id) == 0

    async def test_a_wanted_by_date_in_the_past_says_which_day_is_the_earliest(self, mobile, me):
        yesterday = today_cst() - timedelta(days=1)
        r = await mobile.post("/m/v1/wishes", data={**FORM, "wanted_by": str(yesterday)}, headers=me.headers)
        assert r.status_code == 422 and str(today_cst()) in r.json()["detail"]

    async def test_more_than_three_photos_is_refused_before_anything_is_stored(self, mobile, session, me):
        r = await mobile.post("/m/v1/wishes", data=FORM, files=[jpeg() for _ in range(4)], headers=me.headers)
        assert r.status_code == 422 and r.json()["type"].endswith("/too-many-photos")
        assert await wishes_of(session, me.resident.id) == 0

    async def test_a_text_file_posing_as_a_photo_is_415_naming_the_photo(self, mobile, session, me):
        files = [jpeg(), ("photos", ("evil.jpg", b"not an image at all", "image/jpeg"))]
        r = await mobile.post("/m/v1/wishes", data=FORM, files=files, headers=me.headers)
        assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
        assert r.json()["detail"].startswith("Photo 2:") and r.json()["photo"] == 2
        assert await wishes_of(session, me.resident.id) == 0

    async def test_a_photo_over_the_size_limit_is_413(self, mobile, mobile_settings, me):
        big = b"\xff\xd8" + b"0" * mobile_settings.photo_max_bytes
        r = await mobile.post(
            "/m/v1/wishes", data=FORM, files=[("photos", ("big.jpg", big, "image/jpeg"))], headers=me.headers
        )
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


class TestSendingTwice:
    async def test_the_same_idempotency_key_gives_back_the_same_wish(self, mobile, session, me):
        key = {"Idempotency-Key": "3f2b8c1e-7d4a-4b9e-a1c2-5d6e7f8a9b0c"}
        first = await make(mobile, me, files=[jpeg()], headers=key)
        r = await mobile.post("/m/v1/wishes", data=FORM, files=[jpeg()], headers={**me.headers, **key})
        assert r.status_code == 200 and r.json()["id"] == first["id"]
        assert await wishes_of(session, me.resident.id) == 1
        assert (await session.execute(select(func.count()).select_from(WishPhoto))).scalar_one() == 1

    async def test_the_same_key_with_another_wish_is_refused(self, mobile, session, me):
        key = {"Idempotency-Key": "key-0000-0001"}
        await make(mobile, me, headers=key)
        r = await mobile.post(
            "/m/v1/wishes", data={**FORM, "title": "需要一个助行器"}, headers={**me.headers, **key}
        )
        assert r.status_code == 422 and r.json()["type"].endswith("/idempotency-key-reused")
        assert await wishes_of(session, me.resident.id) == 1

    async def test_a_double_tap_without_a_key_makes_one_wish(self, mobile, session, me):
        first = await make(mobile, me)
        r = await mobile.post("/m/v1/wishes", data=FORM, headers=me.headers)
        assert r.status_code == 200 and r.json()["id"] == first["id"]
        assert await wishes_of(session, me.resident.id) == 1

    async def test_a_different_wish_right_after_is_a_new_wish(self, mobile, session, me):
        await make(mobile, me)
        await make(mobile, me, title="需要一个助行器")
        assert await wishes_of(session, me.resident.id) == 2

    async def test_a_new_key_for_a_repeat_within_minutes_is_recorded_against_the_wish_already_made(
        self, mobile, session, me
    ):
        first = await make(mobile, me)
        r = await mobile.post(
            "/m/v1/wishes", data=FORM, headers={**me.headers, "Idempotency-Key": "retry-123456"}
        )
        assert r.status_code == 200 and r.json()["id"] == first["id"]
        row = await session.get(WishRequest, (me.account_id, "retry-123456"))
        assert row is not None and row.wish_id == first["id"]

    async def test_a_retry_long_after_a_lost_answer_still_gets_the_wish_already_made(
        self, mobile, session, me
    ):
        """Wishes made the wish but mobile's own record of the key was lost (mobile died before its
        commit), and the resident retries an hour later, after the grid approved it: wishes knows the key."""
        key = {"Idempotency-Key": "lost-answer-0001"}
        first = await make(mobile, me, files=[jpeg()], headers=key)
        await session.execute(delete(WishRequest).where(WishRequest.account_id == me.account_id))
        await session.execute(
            update(Wish)
            .where(Wish.id == first["id"])
            .values(status="approved", submitted_at=Wish.submitted_at - timedelta(hours=1))
        )
        await session.commit()
        r = await mobile.post("/m/v1/wishes", data=FORM, files=[jpeg()], headers={**me.headers, **key})
        assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
        assert r.headers["Idempotent-Replayed"] == "true" and r.json()["status"] == "approved"
        assert await wishes_of(session, me.resident.id) == 1
        assert (await session.execute(select(func.count()).select_from(WishPhoto))).scalar_one() == 1
        row = await session.get(WishRequest, (me.account_id, "lost-answer-0001"))
        assert row is not None and row.wish_id == first["id"]

    async def test_ten_wishes_a_day_then_429_with_retry_after(self, mobile, session, me):
        for n in range(10):
            await make(mobile, me, title=f"心愿{n}号")
        r = await mobile.post("/m/v1/wishes", data={**FORM, "title": "第十一个"}, headers=me.headers)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert await wishes_of(session, me.resident.id) == 10


class TestMyWishes:
    async def test_my_list_is_mine_only_newest_first_with_plain_labels(
        self, mobile, wishes, session, world, me, staff
    ):
        await submit(wishes, staff.grid, world.residents[1].id)  # my neighbour's
        a = await make(mobile, me, title="第一个")
        b = await make(mobile, me, title="第二个")
        r = await mobile.get("/m/v1/wishes", headers=me.headers)
        assert r.status_code == 200
        body = r.json()
        assert [w["id"] for w in body["items"]] == [b["id"], a["id"]] and body["next_cursor"] is None
        assert body["items"][0]["status_label"] == "待审核"

    async def test_pages_neither_repeat_nor_skip_when_new_wishes_arrive_while_scrolling(self, mobile, me):
        ids = [(await make(mobile, me, title=f"心愿{n}号"))["id"] for n in range(5)]
        p1 = (await mobile.get("/m/v1/wishes", params={"limit": 2}, headers=me.headers)).json()
        assert [w["id"] for w in p1["items"]] == ids[:2:-1][:2] == [ids[4], ids[3]]
        for n in range(3):  # three new wishes land on top while the resident reads page 1
            await make(mobile, me, title=f"新心愿{n}号")
        p2 = (
            await mobile.get(
                "/m/v1/wishes", params={"limit": 2, "cursor": p1["next_cursor"]}, headers=me.headers
            )
        ).json()
        assert [w["id"] for w in p2["items"]] == [ids[2], ids[1]]
        p3 = (
            await mobile.get(
                "/m/v1/wishes", params={"limit": 2, "cursor": p2["next_cursor"]}, headers=me.headers
            )
        ).json()
        assert [w["id"] for w in p3["items"]] == [ids[0]] and p3["next_cursor"] is None

    @pytest.mark.parametrize("cursor", ["garbage!", "WzFd", "WyJhIiwxXQ"])
    async def test_a_cursor_not_given_out_is_a_422(self, mobile, me, cursor):
        r = await mobile.get("/m/v1/wishes", params={"cursor": cursor}, headers=me.headers)
        assert r.status_code == 422 and r.json()["type"].endswith("/bad-cursor")

    async def test_someone_elses_wish_is_404_like_one_that_does_not_exist(
        self, mobile, wishes, world, me, staff
    ):
        theirs = await submit(wishes, staff.grid, world.residents[1].id)
        r = await mobile.get(f"/m/v1/wishes/{theirs['id']}", headers=me.headers)
        missing = await mobile.get("/m/v1/wishes/999999", headers=me.headers)
        assert r.status_code == missing.status_code == 404
        assert r.json()["type"] == missing.json()["type"] and r.json()["type"].endswith("/wish-not-found")

    async def test_the_trail_names_the_unit_and_shows_proof_photos_but_no_staff_account(
        self, mobile, wishes, me, staff, unit
    ):
        w = await make(mobile, me, files=[jpeg()])
        for headers, action in ((staff.grid, "approve"), (staff.grid, "publish"), (staff.liaison, "claim")):
            await ok(wishes, headers, w["id"], action, {"note": "符合条件"} if action == "approve" else {})
        await ok(wishes, staff.liaison, w["id"], "start")
        from tests.wishes.builders import upload_photo

        proof = await upload_photo(wishes, staff.liaison)
        await ok(
            wishes, staff.liaison, w["id"], "complete", {"note": "轮椅已送到", "proof_photo_ids": [proof]}
        )
        r = await mobile.get(f"/m/v1/wishes/{w['id']}", headers=me.headers)
        assert r.status_code == 200
        d = r.json()
        assert d["status"] == "completed" and d["status_label"] == "已完成，待您确认"
        assert d["claimant"] == {"kind": "unit", "name": "龙锦社区卫生服务站"}
        assert d["actions"] == ["confirm", "dispute"]
        assert d["completion_note"] == "轮椅已送到"
        assert [(s["label"], s["by"]) for s in d["trail"]] == [
            ("点单", "我"),
            ("审核通过", "网格员"),
            ("派单", "网格员"),
            ("接单", "龙锦社区卫生服务站"),
            ("开始实施", "龙锦社区卫生服务站"),
            ("完成", "龙锦社区卫生服务站"),
        ]
        assert d["trail"][1]["note"] == "符合条件"
        for account in ("grid-w", "liaison-MU001", "svc-mobile"):
            assert account not in r.text
        assert "resident_id" not in d and "served" not in d
        photo = await mobile.get(d["proof_photos"][0].removeprefix("http://mobile"))
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        assert photo.content[:2] == b"\xff\xd8"

    async def test_a_volunteers_name_is_masked(self, mobile, wishes, session, me, staff):
        from tests.wishes.builders import make_volunteer

        v = await make_volunteer(session, "王小明")
        await session.commit()
        w = await make(mobile, me)
        await ok(wishes, staff.grid, w["id"], "approve")
        await ok(wishes, staff.grid, w["id"], "publish")
        await ok(wishes, staff.grid, w["id"], "claim", {"volunteer_id": v.id})
        d = (await mobile.get(f"/m/v1/wishes/{w['id']}", headers=me.headers)).json()
        assert d["claimant"] == {"kind": "volunteer", "name": "王**"}
        assert d["trail"][-1]["by"] == "王**" and "王小明" not in str(d)


class TestMySteps:
    async def wish(self, wishes, staff, me, status: str) -> dict:
        return await wish_in(wishes, staff, me.resident.id, status)

    async def test_i_confirm_a_completed_wish(self, mobile, wishes, me, staff, unit):
        w = await self.wish(wishes, staff, me, "completed")
        r = await mobile.post(f"/m/v1/wishes/{w['id']}/confirm", json={"note": "谢谢！"}, headers=me.headers)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["status"] == "confirmed" and d["status_label"] == "已确认完成" and d["actions"] == []
        assert d["trail"][-1] == {**d["trail"][-1], "label": "居民确认", "by": "我", "note": "谢谢！"}

    async def test_confirm_needs_no_body(self, mobile, wishes, me, staff, unit):
        w = await self.wish(wishes, staff, me, "completed")
        r = await mobile.post(f"/m/v1/wishes/{w['id']}/confirm", headers=me.headers)
        assert r.status_code == 200 and r.json()["status"] == "confirmed"

    async def test_confirming_a_wish_still_under_review_is_409_saying_what_i_may_do(self, mobile, me):
        w = await make(mobile, me)
        r = await mobile.post(f"/m/v1/wishes/{w['id']}/confirm", json={}, headers=me.headers)
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
        body = r.json()
        assert body["type"].endswith("/transition-not-allowed")
        assert body["status_now"] == "submitted" and body["status_label"] == "待审核"
        assert body["allowed"] == ["withdraw"] and "withdraw" in body["detail"]

    async def test_i_say_it_is_not_done_and_it_goes_back_in_progress(self, mobile, wishes, me, staff, unit):
        w = await self.wish(wishes, staff, me, "completed")
        r = await mobile.post(
            f"/m/v1/wishes/{w['id']}/dispute", json={"reason": "轮椅还没有送到"}, headers=me.headers
        )
        assert r.status_code == 200 and r.json()["status"] == "in_progress"
        assert r.json()["trail"][-1]["note"] == "轮椅还没有送到"

    async def test_i_withdraw_a_claimed_wish_with_my_reason(self, mobile, wishes, me, staff, unit):
        w = await self.wish(wishes, staff, me, "claimed")
        r = await mobile.post(
            f"/m/v1/wishes/{w['id']}/withdraw", json={"reason": "家里已经买到了"}, headers=me.headers
        )
        assert r.status_code == 200
        d = r.json()
        assert d["status"] == "cancelled" and d["cancel_reason"] == "家里已经买到了" and d["actions"] == []
        assert d["trail"][-1]["label"] == "取消" and d["trail"][-1]["by"] == "我"

    async def test_withdrawing_a_closed_wish_is_409(self, mobile, wishes, me, staff, unit):
        w = await self.wish(wishes, staff, me, "closed")
        r = await mobile.post(
            f"/m/v1/wishes/{w['id']}/withdraw", json={"reason": "不需要了"}, headers=me.headers
        )
        assert r.status_code == 409 and r.json()["allowed"] == []

    @pytest.mark.parametrize("body", [{}, {"reason": "x"}, {"reason": "  "}, {"reason": "好的", "x": 1}])
    async def test_withdraw_and_dispute_need_a_reason(self, mobile, me, body):
        w = await make(mobile, me)
        for step in ("withdraw", "dispute"):
            r = await mobile.post(f"/m/v1/wishes/{w['id']}/{step}", json=body, headers=me.headers)
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM

    async def test_i_cannot_touch_someone_elses_wish_and_it_stays_as_it_was(
        self, mobile, wishes, session, world, me, staff
    ):
        theirs = await submit(wishes, staff.grid, world.residents[1].id)
        for step, body in (
            ("withdraw", {"reason": "不需要了"}),
            ("confirm", {}),
            ("dispute", {"reason": "没做"}),
        ):
            r = await mobile.post(f"/m/v1/wishes/{theirs['id']}/{step}", json=body, headers=me.headers)
            assert r.status_code == 404 and "status_now" not in r.json()
        wish = await session.get(Wish, theirs["id"])
        await session.refresh(wish)
        assert wish.status == "submitted"
