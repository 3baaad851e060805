"""The weekly review (一周一点评): figures for 2026-W47 (Mon 16 Nov 00:00 CST to Mon 23 Nov 00:00 CST).

`week` builds one known week plus noise around it. Expected figures, by unit (min_received 3):

    CGJ 城管   S1  received 5 (incl. Mon 00:00 and Sun 23:59:59 edges), closed 5 on time, hours 1..5,
                   4 rated satisfied/basically                                  -> red list
    JJD 交警   S2  received 3 (one given in UTC), closed 4 (one created the week before), on time,
                   hours 1, 1.5, 2, 1.5, nobody rated                           -> red list (no rating)
    GAJ 公安   S1  received 3 (one unlocated), closed 3 (one with no on_time/work_seconds),
                   a yellow card (twice, one ticket)                            -> not red: 1 of 3 overdue
    SCJ 市场   S2  received 4, on time 3/4, hours 2, 4, 6, 10, rated 1/3 (one closed the week
                   before), a yellow card, a return                             -> black list, two reasons
    ZJJ 住建   S3  received 3, none closed; returned 1 (on a ticket with no unit in S1)
    YLJ 园林   S1  received 2, both late: below min_received, so neither ranked nor listed
    no unit        S1 one, unlocated one
"""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from services.dispatch.models import Supervision, Ticket, TicketReturn
from services.dispatch.service.report import (
    Thresholds,
    WeeklyReportRead,
    report_svg,
    report_xlsx,
    weekly_report,
)
from services.dispatch.settings import DispatchSettings
from services.dispatch.worktime import CST

WEEK = "2026-W47"
S1, S2, S3 = ("330106001", "北山街道"), ("330106002", "西溪街道"), ("330105001", "湖墅街道")
TH = Thresholds(
    red_on_time=0.95, red_satisfaction=0.90, black_on_time=0.80, black_satisfaction=0.70, min_received=3
)
_numbers = itertools.count(1)


def cst(day: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """A time in November 2026, China time."""
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=CST)


async def make_ticket(
    session: Any,
    *,
    unit: str | None,
    street: tuple[str, str] | None,
    created: datetime,
    status: str = "closed",
    closed: datetime | None = None,
    on_time: bool | None = None,
    hours: float | None = None,
    feedback: datetime | None = None,
    satisfaction: str | None = None,
) -> Ticket:
    t = Ticket(
        number=f"T{next(_numbers):012d}",
        channel="patrol",
        status="feedback" if feedback and status == "closed" else status,
        text="测试案件",
        unit=unit,
        street_code=street[0] if street else None,
        street_name=street[1] if street else None,
        created_at=created,
        dispatched_at=created if closed else None,
        closed_at=closed,
        on_time=on_time,
        work_seconds=None if hours is None else hours * 3600,
        feedback_at=feedback,
        satisfaction=satisfaction,
        created_by="test",
    )
    session.add(t)
    await session.flush()
    return t


async def make_supervision(
    session: Any, ticket: Ticket, *, at: datetime, kind: str = "yellow", round_: int = 1
) -> None:
    session.add(
        Supervision(
            ticket_id=ticket.id,
            round=round_,
            clock="handling",
            kind=kind,
            unit=ticket.unit,
            street_code=ticket.street_code,
            due_at=at - timedelta(hours=1),
            created_at=at,
            note="超期",
        )
    )
    await session.flush()


async def make_return(session: Any, ticket: Ticket, *, unit: str, at: datetime) -> None:
    session.add(
        TicketReturn(ticket_id=ticket.id, unit=unit, reason="非本单位职责", requested_by="u", requested_at=at)
    )
    await session.flush()


@pytest.fixture
async def week(session: Any) -> None:
    mk = make_ticket
    # CGJ: five in the week, edges included
    for created, closed, hours, fb, sat in (
        (cst(16, 0, 0), cst(16, 10), 1, cst(17), "satisfied"),
        (cst(17, 9), cst(18), 2, cst(19), "satisfied"),
        (cst(18, 9), cst(19), 3, cst(20), "satisfied"),
        (cst(19, 9), cst(20), 4, cst(21), "basically_satisfied"),
        (cst(22, 23, 59, 59), cst(22, 23, 59, 59), 5, None, None),
    ):
        await mk(
            session,
            unit="CGJ",
            street=S1,
            created=created,
            closed=closed,
            on_time=True,
            hours=hours,
            feedback=fb,
            satisfaction=sat,
        )
    # CGJ noise: the Sunday before (closed that week, late), next Monday 00:00, 01:00 CST given in UTC,
    # a void report and a duplicate (closed in the week, late)
    await mk(
        session,
        unit="CGJ",
        street=S1,
        created=cst(15, 23, 59),
        closed=cst(15, 23, 59, 30),
        on_time=False,
        hours=100,
    )
    await mk(session, unit="CGJ", street=S1, created=cst(23, 0, 0), status="dispatched")
    await mk(
        session, unit="CGJ", street=S1, created=datetime(2026, 11, 22, 17, 0, tzinfo=UTC), status="dispatched"
    )
    await mk(session, unit="CGJ", street=S1, created=cst(18), status="cancelled")
    await mk(
        session,
        unit="CGJ",
        street=S1,
        created=cst(18),
        status="linked",
        closed=cst(19),
        on_time=False,
        hours=50,
        feedback=cst(20),
        satisfaction="dissatisfied",
    )

    # JJD: Monday 00:00 CST given as Sunday 16:00 UTC; one closed in the week but created the week before
    await mk(
        session,
        unit="JJD",
        street=S2,
        created=datetime(2026, 11, 15, 16, 0, tzinfo=UTC),
        closed=cst(16, 12),
        on_time=True,
        hours=1,
    )
    await mk(session, unit="JJD", street=S2, created=cst(17), closed=cst(17, 15), on_time=True, hours=1.5)
    await mk(session, unit="JJD", street=S2, created=cst(18), closed=cst(18, 15), on_time=True, hours=2)
    await mk(session, unit="JJD", street=S2, created=cst(10), closed=cst(16, 9), on_time=True, hours=1.5)

    # GAJ: a yellow card on one ticket, twice (two rounds), plus a warning and last week's yellow
    g1 = await mk(session, unit="GAJ", street=S1, created=cst(16, 9), closed=cst(17), on_time=True, hours=2)
    await mk(session, unit="GAJ", street=S1, created=cst(17, 9), closed=cst(18), on_time=True, hours=2)
    await mk(session, unit="GAJ", street=None, created=cst(18, 9), closed=cst(19))
    await make_supervision(session, g1, at=cst(16, 17))
    await make_supervision(session, g1, at=cst(17, 10), round_=2)
    await make_supervision(session, g1, at=cst(16, 15), kind="warning")
    g_old = await mk(session, unit="GAJ", street=S1, created=cst(9), status="handling")
    await make_supervision(session, g_old, at=cst(15, 23, 59))

    # SCJ: 3 of 4 on time, 1 of 3 rated satisfied (one rating for a ticket closed the week before)
    scj = []
    for day, on_time, hours in ((16, True, 2), (17, True, 4), (18, True, 6), (19, False, 10)):
        scj.append(
            await mk(
                session,
                unit="SCJ",
                street=S2,
                created=cst(day, 10),
                closed=cst(day + 1, 10),
                on_time=on_time,
                hours=hours,
            )
        )
    scj[0].feedback_at, scj[0].satisfaction = cst(18), "satisfied"
    scj[1].feedback_at, scj[1].satisfaction = cst(19), "dissatisfied"
    await mk(
        session,
        unit="SCJ",
        street=S2,
        created=cst(9),
        closed=cst(13),
        on_time=True,
        hours=3,
        feedback=cst(16, 8),
        satisfaction="dissatisfied",
    )
    await make_supervision(session, scj[3], at=cst(20))
    await make_return(session, scj[0], unit="SCJ", at=cst(16, 11))
    await make_return(session, scj[0], unit="SCJ", at=cst(15, 12))  # the week before

    # ZJJ: three open tickets in another district's street
    for day in (20, 21, 22):
        await mk(session, unit="ZJJ", street=S3, created=cst(day, 9), status="handling")

    # YLJ: too few tickets to be ranked
    await mk(session, unit="YLJ", street=S1, created=cst(16), closed=cst(17), on_time=False, hours=20)
    await mk(session, unit="YLJ", street=S1, created=cst(17), closed=cst(18), on_time=False, hours=30)

    # no unit yet: one located (ZJJ returned it), one not
    orphan = await mk(session, unit=None, street=S1, created=cst(20, 9), status="triage")
    await mk(session, unit=None, street=None, created=cst(21), status="registered")
    await make_return(session, orphan, unit="ZJJ", at=cst(20))
    await session.flush()


async def report_for(session: Any, **kw: Any) -> dict[str, Any]:
    kw.setdefault("thresholds", TH)
    return await weekly_report(session, week=kw.pop("week", WEEK), **kw)


def parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output, not untrusted input)


def by_unit(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["code"]: u for u in report["units"]}


def by_street(report: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {s["street_code"]: s for s in report["streets"]}


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("received", "closed", "on_time_rate", "overdue", "returned", "median_hours_to_close")
    return (*(row[k] for k in keys), row["satisfaction_rate"])


class TestWeekWindow:
    async def test_window_is_monday_to_monday_china_time(self, session):
        r = await report_for(session)
        assert r["week"] == WEEK
        assert r["from"] == "2026-11-16T00:00:00+08:00"
        assert r["to"] == "2026-11-23T00:00:00+08:00"

    async def test_edges_and_utc_times_fall_in_the_right_week(self, session, week):
        # CGJ has Monday 00:00 and Sunday 23:59:59 in; the Sunday before, next Monday 00:00 and
        # Sunday 17:00 UTC (= Monday 01:00 CST) out. JJD's Sunday 16:00 UTC is Monday 00:00 CST: in.
        units = by_unit(await report_for(session))
        assert units["CGJ"]["received"] == 5
        assert units["JJD"]["received"] == 3

    async def test_adjacent_weeks_see_only_their_own_tickets(self, session, week):
        before = by_unit(await report_for(session, week="2026-W46"))
        after = by_unit(await report_for(session, week="2026-W48"))
        assert before["CGJ"]["received"] == 1 and before["CGJ"]["closed"] == 1
        assert before["CGJ"]["on_time_rate"] == 0.0
        assert before["GAJ"]["overdue"] == 1
        assert after["CGJ"]["received"] == 2


class TestUnitFigures:
    async def test_all_23_units_are_listed_by_code_with_zero_rows(self, session, week):
        r = await report_for(session)
        codes = [u["code"] for u in r["units"]]
        assert len(codes) == 23 and codes == sorted(codes)
        assert figures(by_unit(r)["WJW"]) == (0, 0, None, 0, 0, None, None)
        assert by_unit(r)["CGJ"]["short_name"] == "城管"

    async def test_each_units_figures(self, session, week):
        u = by_unit(await report_for(session))
        assert figures(u["CGJ"]) == (5, 5, 1.0, 0, 0, 3.0, 1.0)
        assert figures(u["JJD"]) == (3, 4, 1.0, 0, 0, 1.5, None)
        assert figures(u["GAJ"]) == (3, 3, 1.0, 1, 0, 2.0, None)
        assert figures(u["SCJ"]) == (4, 4, 0.75, 1, 1, 5.0, 0.3333)
        assert figures(u["ZJJ"]) == (3, 0, None, 0, 1, None, None)
        assert figures(u["YLJ"]) == (2, 2, 0.0, 0, 0, 25.0, None)

    async def test_duplicates_and_void_reports_count_nowhere(self, session, week):
        # the linked duplicate was closed late and rated dissatisfied in the week: CGJ stays perfect
        cgj = by_unit(await report_for(session))["CGJ"]
        assert (cgj["closed"], cgj["on_time_rate"], cgj["satisfaction_rate"]) == (5, 1.0, 1.0)

    async def test_a_yellow_card_counts_its_ticket_once_and_warnings_not_at_all(self, session, week):
        assert by_unit(await report_for(session))["GAJ"]["overdue"] == 1


class TestTotalsAndStreets:
    async def test_totals_include_tickets_without_a_unit(self, session, week):
        totals = (await report_for(session))["totals"]
        assert figures(totals) == (22, 18, round(14 / 17, 4), 2, 2, 2.0, round(5 / 7, 4))

    async def test_streets_by_code_with_unlocated_last(self, session, week):
        r = await report_for(session)
        assert [(s["street_code"], s["street_name"]) for s in r["streets"]] == [
            S3,
            S1,
            S2,
            (None, "未定位"),
        ]
        s = by_street(r)
        assert figures(s["330106001"]) == (10, 9, round(7 / 9, 4), 1, 1, 3.0, 1.0)
        assert figures(s["330106002"]) == (7, 8, 0.875, 1, 1, 2.0, 0.3333)
        assert figures(s["330105001"]) == (3, 0, None, 0, 0, None, None)
        assert figures(s[None]) == (2, 1, None, 0, 0, None, None)
        assert sum(x["received"] for x in r["streets"]) == r["totals"]["received"]

    async def test_an_empty_week_has_zero_totals(self, session):
        r = await report_for(session, week="2020-W01")
        assert figures(r["totals"]) == (0, 0, None, 0, 0, None, None)
        assert r["streets"] == [] and r["ranking"] == [] and len(r["units"]) == 23


class TestStreetScope:
    async def test_a_district_prefix_keeps_its_streets_only(self, session, week):
        r = await report_for(session, street_prefixes=("330106",))
        assert [s["street_code"] for s in r["streets"]] == ["330106001", "330106002"]
        u = by_unit(r)
        assert figures(u["GAJ"]) == (2, 2, 1.0, 1, 0, 2.0, None)  # the unlocated one is out
        assert figures(u["ZJJ"]) == (0, 0, None, 0, 1, None, None)  # its return is in S1
        assert r["totals"]["received"] == 17
        assert [e["code"] for e in r["ranking"]] == ["CGJ", "JJD", "SCJ"]

    async def test_a_street_prefix_restricts_unit_figures_too(self, session, week):
        r = await report_for(session, street_prefixes=("330106002",))
        assert [s["street_code"] for s in r["streets"]] == ["330106002"]
        received = {u["code"]: u["received"] for u in r["units"] if u["received"]}
        assert received == {"JJD": 3, "SCJ": 4}
        assert r["totals"]["overdue"] == 1 and r["totals"]["returned"] == 1

    async def test_several_prefixes_add_up(self, session, week):
        r = await report_for(session, street_prefixes=("330106001", "330105"))
        assert r["totals"]["received"] == 13

    async def test_no_prefixes_means_nothing_in_scope(self, session, week):
        r = await report_for(session, street_prefixes=())
        assert r["totals"]["received"] == 0 and r["streets"] == []

    async def test_like_wildcards_in_a_prefix_are_literal(self, session, week):
        r = await report_for(session, street_prefixes=("3301_6",))
        assert r["totals"]["received"] == 0


class TestRanking:
    async def test_order_is_on_time_then_satisfaction_then_median_then_code(self, session, week):
        ranking = (await report_for(session))["ranking"]
        # CGJ 100%/100%; JJD and GAJ 100%/unrated, JJD faster; SCJ 75%; ZJJ closed nothing
        assert [(e["rank"], e["code"], e["short_name"]) for e in ranking] == [
            (1, "CGJ", "城管"),
            (2, "JJD", "交警"),
            (3, "GAJ", "公安"),
            (4, "SCJ", "市场监管"),
            (5, "ZJJ", "住建"),
        ]

    async def test_units_below_min_received_are_not_ranked(self, session, week):
        r = await report_for(session)
        assert "YLJ" not in {e["code"] for e in r["ranking"]}
        assert "YLJ" not in {e["code"] for e in r["black_list"]}
        lower = Thresholds(**{**r["thresholds"], "min_received": 2})
        r2 = await report_for(session, thresholds=lower)
        assert r2["black_list"][-1]["code"] == "YLJ"


class TestRedAndBlackLists:
    async def test_red_list_needs_on_time_satisfaction_and_few_yellow_cards(self, session, week):
        red = (await report_for(session))["red_list"]
        # GAJ is at 100% but 1 of its 3 tickets got a yellow card (> 5%); ZJJ closed nothing
        assert [e["code"] for e in red] == ["CGJ", "JJD"]
        assert red[0]["reasons"] == ["按时办结率 100.0% ≥ 95%", "群众满意率 100.0% ≥ 90%", "无超期黄牌"]
        assert "本周无满意度评价" in red[1]["reasons"]

    async def test_black_list_gives_every_reason(self, session, week):
        black = (await report_for(session))["black_list"]
        assert [(e["code"], e["rank"]) for e in black] == [("SCJ", 4)]
        assert black[0]["reasons"] == ["按时办结率 75.0% < 80%", "群众满意率 33.3% < 70%"]

    async def test_unknown_rates_never_blacklist(self, session, week):
        black = {e["code"] for e in (await report_for(session))["black_list"]}
        assert "ZJJ" not in black and "JJD" not in black

    async def test_thresholds_are_configurable(self, session, week):
        lenient = Thresholds(
            red_on_time=0.7, red_satisfaction=0.3, black_on_time=0.5, black_satisfaction=0.2, min_received=3
        )
        r = await report_for(session, thresholds=lenient)
        assert r["black_list"] == []
        # yellow cards may now be 30% of received: SCJ's 1 of 4 passes, GAJ's 1 of 3 does not
        assert [e["code"] for e in r["red_list"]] == ["CGJ", "JJD", "SCJ"]
        assert r["red_list"][2]["reasons"][-1] == "超期黄牌 1 件，占受理 25.0% ≤ 30%"
        assert r["thresholds"]["black_on_time"] == 0.5

    async def test_thresholds_come_from_settings(self):
        s = DispatchSettings(
            client_secret="x" * 20,
            secrets_key="Q3ZsNnRyYWNrLWtleS1mb3ItdGVzdHMtb25seS0wMDA",
            red_list_on_time=0.9,
            red_list_satisfaction=0.8,
            black_list_on_time=0.6,
            black_list_satisfaction=0.5,
            list_min_received=7,
        )
        assert Thresholds.from_settings(s) == Thresholds(0.9, 0.8, 0.6, 0.5, 7)


class TestWeekValidation:
    @pytest.mark.parametrize(
        "bad",
        ["2026-W54", "2025-W53", "2026-W00", "2026-47", "2026W47", "2026-w47", " 2026-W47", "2026-W4", ""],
    )
    async def test_bad_or_missing_weeks_raise_value_error(self, session, bad):
        with pytest.raises(ValueError, match="week"):
            await report_for(session, week=bad)

    async def test_a_53rd_week_exists_in_long_years(self, session):
        r = await report_for(session, week="2026-W53")
        assert r["from"] == "2026-12-28T00:00:00+08:00"


class TestResponseModel:
    async def test_report_validates_and_serialises_with_from(self, session, week):
        r = await report_for(session)
        model = WeeklyReportRead.model_validate(r)
        dumped = model.model_dump(mode="json")
        assert dumped["from"].startswith("2026-11-16T00:00:00")
        assert dumped["black_list"][0]["reasons"] == r["black_list"][0]["reasons"]
        assert dumped["streets"][-1]["street_code"] is None


class TestXlsx:
    async def test_three_sheets_with_the_figures(self, session, week):
        r = await report_for(session)
        wb = load_workbook(io.BytesIO(report_xlsx(r)))
        assert wb.sheetnames == ["单位", "街道", "红黑榜"]
        units = wb["单位"]
        assert WEEK in units["A1"].value
        assert units["A2"].value == "单位代码" and units["A2"].font.bold
        assert units.freeze_panes == "A3"
        rows = {row[0].value: row for row in units.iter_rows(min_row=3)}
        scj = rows["SCJ"]
        assert [c.value for c in scj[3:10]] == [4, 4, 0.75, 1, 1, 5.0, 0.3333]
        assert scj[5].number_format == "0.0%"
        assert len(rows) == 24  # 23 units and the total
        streets = [row for row in wb["街道"].iter_rows(min_row=3, values_only=True)]
        assert streets[3][:3] == (None, "未定位", 2)
        assert streets[-1][1:3] == ("合计", 22)
        lists = [row for row in wb["红黑榜"].iter_rows(min_row=3, values_only=True)]
        assert [(x[0], x[2]) for x in lists] == [("红榜", "CGJ"), ("红榜", "JJD"), ("黑榜", "SCJ")]
        assert lists[2][8] == "按时办结率 75.0% < 80%；群众满意率 33.3% < 70%"


class TestSvg:
    async def test_svg_parses_and_names_each_ranked_unit(self, session, week):
        r = await report_for(session)
        root = parse_svg(report_svg(r))
        texts = " ".join(el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}text"))
        assert "一周一点评 2026-W47 各单位按时办结率" in texts
        for e in r["ranking"]:
            assert e["short_name"] in texts
        for tick in ("0%", "25%", "50%", "75%", "100%"):
            assert tick in texts.split()
        fills = {el.get("fill") for el in root.iter("{http://www.w3.org/2000/svg}rect")}
        assert {"#d32f2f", "#263238"} <= fills

    async def test_names_are_escaped(self):
        report = {
            "week": WEEK,
            "ranking": [
                {
                    "rank": 1,
                    "code": "X",
                    "short_name": "<A&B>",
                    "on_time_rate": 0.5,
                    "satisfaction_rate": None,
                    "received": 9,
                    "median_hours_to_close": 1.0,
                }
            ],
            "red_list": [],
            "black_list": [],
        }
        root = parse_svg(report_svg(report))
        assert any("<A&B>" in (el.text or "") for el in root.iter("{http://www.w3.org/2000/svg}text"))

    async def test_an_empty_week_still_draws(self, session):
        root = parse_svg(report_svg(await report_for(session, week="2020-W01")))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
