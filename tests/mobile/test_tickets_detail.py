"""One of my tickets, live from dispatch, as a resident-friendly timeline; and rating it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.dispatch.helpers import CLOSE, HANDLE, PHOTO, People, step, walk
from tests.mobile.residents import resident
from tests.mobile.test_reports_create import GARBAGE, jpeg, post_report, problem

LIGHT = "小区门口的路灯坏了好几天，晚上一片漆黑"


@pytest.fixture
async def alice(mobile, session, world):  # type: ignore[no-untyped-def]
    return await resident(mobile, session, world, 0, openid="alice")


@pytest.fixture
def people(token):  # type: ignore[no-untyped-def]
    return People(token)


async def filed(mobile, session, headers, **kw) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    r = await post_report(mobile, headers, **kw)
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    tid = await session.scalar(
        text("SELECT ticket_id FROM mobile.report WHERE ticket_number = :n"), {"n": number}
    )
    return number, tid


async def detail(mobile, headers, number):  # type: ignore[no-untyped-def]
    r = await mobile.get(f"/m/v1/tickets/{number}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


class TestTimeline:
    async def test_the_whole_loop_in_plain_chinese(self, mobile, alice, session, dispatch, people):
        number, tid = await filed(mobile, session, alice.headers, photos=[("a.jpg", jpeg(), "image/jpeg")])
        await walk(dispatch, people, tid, CLOSE)
        d = await detail(mobile, alice.headers, number)
        assert d["status"] == "to_rate" and d["status_label"] == "待评价" and d["ratable"] is True
        assert d["text"] == GARBAGE and d["unit_name"] == "XX区城市管理局"
        assert d["area_name"] == "龙锦社区 龙锦第1网格" and len(d["photos"]) == 1
        steps = [(s["step"], s["title"]) for s in d["timeline"]]
        assert steps == [
            ("register", "已受理"),
            ("dispatch", "已派遣"),
            ("accept", "已签收"),
            ("start", "处理中"),
            ("handle", "已办结"),
            ("verify", "已核实"),
            ("close", "已结案"),
        ]
        by = {s["step"]: s for s in d["timeline"]}
        assert number in by["register"]["text"]
        assert by["dispatch"]["text"] == "已派遣至XX区城市管理局处理。"
        assert by["accept"]["unit_name"] == "XX区城市管理局"
        assert by["handle"]["result"] == "已清运，现场清扫干净"
        assert by["verify"]["result"] == "现场已核实" and by["verify"]["photos"] == [PHOTO["url"]]
        assert by["accept"]["result"] is None and by["accept"]["photos"] == []

    async def test_no_staff_names_phones_or_internal_notes(self, mobile, alice, session, dispatch, people):
        number, tid = await filed(mobile, session, alice.headers, extra={"contact_allowed": "true"})
        await step(
            dispatch, people["cgj"], tid, "return", note="不属于城管职责，内部说明：联系人王科长13800001111"
        )
        await step(
            dispatch, people["street"], tid, "rule_return", ruling="rejected", note="属于城管职责，按标准办理"
        )
        await walk(dispatch, people, tid, [*HANDLE[:2]])
        await step(dispatch, people["cgj"], tid, "request_extension", hours=7, note="需协调环卫车辆，内部")
        await step(dispatch, people["street"], tid, "decide_extension", decision="approved")
        body = json.dumps(await detail(mobile, alice.headers, number), ensure_ascii=False)
        for secret in (
            "cgj-handler",
            "sanjing-dispatch",
            "qu-admin",
            "13800001111",
            "王科长",
            "内部",
            "street_dispatcher",
        ):
            assert secret not in body, secret
        steps = [s["title"] for s in json.loads(body)["timeline"]]
        assert steps == ["已受理", "已派遣", "已签收", "处理中", "延长处理期限"]

    async def test_a_reassignment_names_the_new_unit(self, mobile, alice, session, dispatch, people):
        number, tid = await filed(mobile, session, alice.headers)
        await step(dispatch, people["street"], tid, "reassign", unit="ZJJ", note="属于住建局")
        d = await detail(mobile, alice.headers, number)
        titles = [(s["title"], s["unit_name"]) for s in d["timeline"]]
        assert titles[1] == ("已派遣", "XX区城市管理局")
        assert titles[2][0] == "已改派" and titles[2][1] != "XX区城市管理局"
        assert d["unit_name"] == titles[2][1]

    async def test_the_view_refreshes_the_mirrored_row(self, mobile, alice, session, dispatch, people):
        number, tid = await filed(mobile, session, alice.headers)
        await walk(dispatch, people, tid, CLOSE)  # no push configured: the mirror still says dispatched
        listed = (await mobile.get("/m/v1/tickets", headers=alice.headers)).json()["items"][0]
        assert listed["status"] == "dispatched"
        await detail(mobile, alice.headers, number)
        listed = (await mobile.get("/m/v1/tickets", headers=alice.headers)).json()["items"][0]
        assert listed["status"] == "to_rate"
        seq = await session.scalar(
            text("SELECT event_seq FROM mobile.report WHERE ticket_number = :n"), {"n": number}
        )
        last = await session.scalar(
            text("SELECT max(id) FROM dispatch.ticket_event WHERE ticket_id = :t"), {"t": tid}
        )
        assert seq == last


class TestNotYours:
    async def test_another_residents_ticket_reads_as_unknown(self, mobile, alice, session, world):
        number, _ = await filed(mobile, session, alice.headers)
        bob = await resident(mobile, session, world, 1, openid="bob")
        theirs = await mobile.get(f"/m/v1/tickets/{number}", headers=bob.headers)
        unknown = await mobile.get("/m/v1/tickets/SF20990101000001", headers=bob.headers)
        a, b = problem(theirs, 404, "ticket-not-found"), problem(unknown, 404, "ticket-not-found")
        assert a["detail"].replace(number, "N") == b["detail"].replace("SF20990101000001", "N")
        problem(await mobile.post(f"/m/v1/tickets/{number}/rating", json={"satisfaction": "satisfied"},
                                  headers=bob.headers), 404, "ticket-not-found")  # fmt: skip

    async def test_a_ticket_filed_by_another_channel_is_not_mine(self, mobile, alice, dispatch, token):
        r = await dispatch.post(
            "/api/v1/tickets",
            json={"channel": "patrol", "text": GARBAGE, "lat": 31.8116, "lng": 119.951},
            headers=token("grid_worker", "320411001001001"),
        )
        problem(
            await mobile.get(f"/m/v1/tickets/{r.json()['number']}", headers=alice.headers),
            404,
            "ticket-not-found",
        )

    async def test_a_malformed_number_is_a_422(self, mobile, alice):
        problem(await mobile.get("/m/v1/tickets/12345", headers=alice.headers), 422, "validation-error")


class TestMerged:
    async def test_a_duplicate_follows_the_first_report_without_showing_it(
        self, mobile, alice, session, world, dispatch, people
    ):
        first, tid = await filed(
            mobile, session, alice.headers, extra={"address": "张三家门口，电话13912345678"}
        )
        bob = await resident(mobile, session, world, 1, openid="bob")
        r = await post_report(mobile, bob.headers)
        assert r.status_code == 201
        assert r.json()["status"] == "merged" and r.json()["status_label"] == "已合并"
        second = r.json()["number"]
        await walk(dispatch, people, tid, CLOSE)
        d = await detail(mobile, bob.headers, second)
        assert d["merged_into"] == first and d["status"] == "resolved" and d["ratable"] is False
        titles = [s["title"] for s in d["timeline"]]
        assert titles[:2] == ["已受理", "已合并处理"] and "已办结" in titles and "已结案" in titles
        body = json.dumps(d, ensure_ascii=False)
        assert "张三" not in body and "13912345678" not in body  # the first reporter's words stay theirs
        r = await mobile.post(
            f"/m/v1/tickets/{second}/rating", json={"satisfaction": "satisfied"}, headers=bob.headers
        )
        assert "merged" in problem(r, 409, "not-ratable")["detail"]


class TestRating:
    async def test_a_closed_ticket_is_rated_once(self, mobile, alice, session, dispatch, people, token):
        number, tid = await filed(mobile, session, alice.headers)
        await walk(dispatch, people, tid, CLOSE)
        r = await mobile.post(
            f"/m/v1/tickets/{number}/rating",
            json={"satisfaction": "satisfied", "comment": "处理很及时，谢谢！"},
            headers=alice.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "number": number,
            "satisfaction": "satisfied",
            "satisfaction_label": "满意",
            "status": "rated",
            "status_label": "已评价",
        }
        t = (await dispatch.get(f"/api/v1/tickets/{tid}", headers=token("district_admin", "320411"))).json()
        assert t["status"] == "feedback" and t["satisfaction"] == "satisfied"
        assert t["events"][-1]["action"] == "feedback" and t["events"][-1]["note"] == "处理很及时，谢谢！"
        again = await mobile.post(
            f"/m/v1/tickets/{number}/rating", json={"satisfaction": "dissatisfied"}, headers=alice.headers
        )
        assert "already rated" in problem(again, 409, "not-ratable")["detail"]
        listed = (await mobile.get("/m/v1/tickets", headers=alice.headers)).json()["items"][0]
        assert listed["rated"] is True and listed["status_label"] == "已评价"
        d = await detail(mobile, alice.headers, number)
        assert d["timeline"][-1]["title"] == "已评价" and "满意" in d["timeline"][-1]["text"]

    async def test_dissatisfied_sends_it_for_review(self, mobile, alice, session, dispatch, people):
        number, tid = await filed(mobile, session, alice.headers)
        await walk(dispatch, people, tid, CLOSE)
        r = await mobile.post(
            f"/m/v1/tickets/{number}/rating", json={"satisfaction": "dissatisfied"}, headers=alice.headers
        )
        assert r.json()["status"] == "reviewing" and r.json()["status_label"] == "复核中"

    async def test_an_open_ticket_is_not_ratable_and_says_why(self, mobile, alice, session):
        number, _ = await filed(mobile, session, alice.headers)
        r = await mobile.post(
            f"/m/v1/tickets/{number}/rating", json={"satisfaction": "satisfied"}, headers=alice.headers
        )
        body = problem(r, 409, "not-ratable")
        assert "once it is closed" in body["detail"] and body["ticket_status"] == "dispatched"

    async def test_a_lagging_mirror_does_not_stop_a_rating(self, mobile, alice, session, dispatch, people):
        number, tid = await filed(mobile, session, alice.headers)
        await walk(dispatch, people, tid, CLOSE)  # the mirror still says dispatched: dispatch decides
        r = await mobile.post(
            f"/m/v1/tickets/{number}/rating",
            json={"satisfaction": "basically_satisfied"},
            headers=alice.headers,
        )
        assert r.status_code == 200 and r.json()["satisfaction_label"] == "基本满意"

    @pytest.mark.parametrize("body", [{"satisfaction": "great"}, {}, {"satisfaction": "satisfied", "comment": "x" * 301},
                                      {"satisfaction": "satisfied", "stars": 5}])  # fmt: skip
    async def test_bad_ratings_are_422s(self, mobile, alice, session, body):
        number, _ = await filed(mobile, session, alice.headers)
        problem(
            await mobile.post(f"/m/v1/tickets/{number}/rating", json=body, headers=alice.headers),
            422,
            "validation-error",
        )
