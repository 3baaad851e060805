"""My tickets: `GET /m/v1/tickets`, served from mobile's own mirror (one indexed query), paged by cursor."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.dispatch.helpers import CLOSE, People, walk
from tests.mobile.residents import resident
from tests.mobile.test_reports_create import jpeg, post_report, problem
from tests.mobile.test_reports_limits import dispatch_client_down

TEXTS = [
    "路口那堆垃圾好几天了没人清，臭得不行",
    "小区门口的路灯坏了好几天，晚上一片漆黑",
    "楼下绿化带里有人乱倒建筑垃圾，堆了一大堆",
]


@pytest.fixture
async def alice(mobile, session, world):  # type: ignore[no-untyped-def]
    return await resident(mobile, session, world, 0, openid="alice")


async def file_three(mobile, headers) -> list[str]:  # type: ignore[no-untyped-def]
    numbers = []
    for i, t in enumerate(TEXTS):
        photos = [("a.jpg", jpeg(), "image/jpeg")] if i == 1 else None
        r = await post_report(mobile, headers, text_=t, photos=photos)
        assert r.status_code == 201, r.text
        numbers.append(r.json()["number"])
    return numbers


class TestMyTickets:
    async def test_newest_first_with_status_in_plain_chinese(self, mobile, alice):
        numbers = await file_three(mobile, alice.headers)
        r = await mobile.get("/m/v1/tickets", headers=alice.headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        page = r.json()
        assert [i["number"] for i in page["items"]] == numbers[::-1]
        assert page["next_cursor"] is None
        second = page["items"][1]
        assert second["summary"] == TEXTS[1] and second["photo_count"] == 1
        assert second["photo_url"].startswith("http://mobile/m/v1/photos/")
        assert (await mobile.get(second["photo_url"].removeprefix("http://mobile"))).status_code == 200
        first = page["items"][2]
        assert first["status"] == "dispatched" and first["status_label"] == "已派遣"
        assert (
            first["unit_name"] == "XX区城市管理局" and first["rated"] is False and first["photo_url"] is None
        )
        assert first["created_at"].endswith("Z") and first["updated_at"].endswith("Z")

    async def test_pages_follow_the_cursor_without_repeats_or_gaps(self, mobile, alice):
        numbers = (await file_three(mobile, alice.headers))[::-1]
        got, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await mobile.get("/m/v1/tickets", params=params, headers=alice.headers)).json()
            got += [i["number"] for i in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert got == numbers and pages == 2

    async def test_a_ticket_filed_while_paging_does_not_shift_the_pages(self, mobile, alice):
        numbers = (await file_three(mobile, alice.headers))[::-1]
        page1 = (await mobile.get("/m/v1/tickets", params={"limit": 2}, headers=alice.headers)).json()
        await post_report(mobile, alice.headers, text_="垃圾桶满了好几天没有人来清运")
        page2 = (
            await mobile.get(
                "/m/v1/tickets", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=alice.headers
            )
        ).json()
        assert [i["number"] for i in page1["items"] + page2["items"]] == numbers

    async def test_only_my_own_tickets(self, mobile, alice, session, world):
        await file_three(mobile, alice.headers)
        bob = await resident(mobile, session, world, 1, openid="bob")
        assert (await mobile.get("/m/v1/tickets", headers=bob.headers)).json() == {
            "items": [],
            "next_cursor": None,
        }

    async def test_filter_by_resident_status(self, mobile, alice, dispatch, token, session):
        numbers = await file_three(mobile, alice.headers)
        tid = await session.scalar(
            text("SELECT ticket_id FROM mobile.report WHERE ticket_number = :n"), {"n": numbers[0]}
        )
        await walk(dispatch, People(token), tid, CLOSE)
        await mobile.get(
            f"/m/v1/tickets/{numbers[0]}", headers=alice.headers
        )  # the view refreshes the mirror
        to_rate = (
            await mobile.get("/m/v1/tickets", params={"status": "to_rate"}, headers=alice.headers)
        ).json()
        assert [(i["number"], i["status_label"]) for i in to_rate["items"]] == [(numbers[0], "待评价")]
        open_ = (
            await mobile.get("/m/v1/tickets", params={"status": "dispatched"}, headers=alice.headers)
        ).json()
        assert {i["number"] for i in open_["items"]} == set(numbers[1:])
        assert (await mobile.get("/m/v1/tickets", params={"status": "rated"}, headers=alice.headers)).json()[
            "items"
        ] == []

    async def test_the_list_answers_while_dispatch_is_down(self, mobile, mobile_app, alice):
        numbers = await file_three(mobile, alice.headers)
        mobile_app.state.dispatch = dispatch_client_down(mobile_app)  # this test's app: nothing to restore
        r = await mobile.get("/m/v1/tickets", headers=alice.headers)
        assert r.status_code == 200 and len(r.json()["items"]) == len(numbers)
        body = problem(
            await mobile.get(f"/m/v1/tickets/{numbers[0]}", headers=alice.headers),
            503,
            "upstream-unavailable",
        )
        assert "dispatch" in body["detail"]


class TestBadQueries:
    @pytest.mark.parametrize(
        "params",
        [{"limit": 0}, {"limit": 51}, {"status": "open"}, {"cursor": "not-a-cursor!"}, {"cursor": "WyJ4Il0"}],
    )
    async def test_bad_parameters_are_422s(self, mobile, alice, params):
        r = await mobile.get("/m/v1/tickets", params=params, headers=alice.headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")

    async def test_no_token_is_a_401(self, mobile):
        problem(await mobile.get("/m/v1/tickets"), 401, "invalid-token")
