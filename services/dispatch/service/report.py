"""The weekly review (一周一点评): each unit's and each street's figures for one ISO week, a ranking,
and the red and black lists (红黑榜), plus an .xlsx and an SVG chart for the weekly meeting.

The week runs Monday 00:00 to the next Monday 00:00 China Standard Time. Every figure is aggregated in
PostgreSQL, each query over one index range: tickets created (`ix_ticket_created_at`), closed
(`ix_ticket_closed_at`) and rated (`ix_ticket_feedback_at`) in the week, the week's yellow cards
(`ix_supervision_created_at`) and returns (`ix_ticket_return_requested_at`). Counts are grouped by
(unit, street) with a hash aggregate and added up per unit, per street and overall here (a few hundred
small rows); medians and distinct counts do not add up, so those queries use GROUPING SETS instead.

Rules worth knowing:
- Cancelled (作废) and linked (duplicate) tickets count nowhere among the ticket figures (received,
  closed, on-time, median, satisfaction): a void report is not a case, and a duplicate follows its
  master, so counting both would score one case twice. Yellow cards and returns are rows of their own
  and count as they are.
- Per unit, a ticket counts for its *current* unit; a yellow card for the unit it was issued to; a
  return for the unit that asked for it. Tickets without a unit count in the totals and per street only.
- Ranked units are those with at least `min_received` tickets received in the week. They are ordered by
  on-time rate, then satisfaction rate (both high first, unknown last), then median working hours to
  close (low first), then code.
- Red list (红榜): a ranked unit whose on-time rate is known and at least `red_on_time`, whose
  satisfaction rate is unknown or at least `red_satisfaction`, whose yellow cards (overdue) in the week
  are at most 1 - `red_on_time` of its tickets received, and that is not on the black list. A unit that
  closed nothing this week cannot be praised for speed. Yellow cards are held to the on-time bar rather
  than to zero: a unit with thousands of tickets a week always has a few, and "none at all" would leave
  the red list to the smallest units (the 1M-ticket benchmark had no red unit under that rule).
- Black list (黑榜): a ranked unit whose on-time rate is below `black_on_time` or whose satisfaction
  rate is below `black_satisfaction`; an unknown rate never puts a unit on it. Each entry says why.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, false, func, or_, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import Department, Supervision, Ticket, TicketReturn
from services.dispatch.worktime import CST

if TYPE_CHECKING:
    from services.dispatch.settings import DispatchSettings

UNLOCATED = "未定位"
SATISFIED = ("satisfied", "basically_satisfied")
NOT_A_CASE = ("cancelled", "linked")
FIGURE_KEYS = (
    "received",
    "closed",
    "on_time_rate",
    "overdue",
    "returned",
    "median_hours_to_close",
    "satisfaction_rate",
)

_WEEK = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True)
class Thresholds:
    """Where the red and black lists start; rates are shares (0.95 = 95%)."""

    red_on_time: float = 0.95
    red_satisfaction: float = 0.90
    black_on_time: float = 0.80
    black_satisfaction: float = 0.70
    min_received: int = 5

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> Thresholds:
        return cls(
            red_on_time=settings.red_list_on_time,
            red_satisfaction=settings.red_list_satisfaction,
            black_on_time=settings.black_list_on_time,
            black_satisfaction=settings.black_list_satisfaction,
            min_received=settings.list_min_received,
        )


# --- response models (for the API's response_model) -------------------------------------------------


class Figures(BaseModel):
    received: int = Field(description="Tickets created in the week (not cancelled, not duplicates).")
    closed: int = Field(description="Tickets closed (结案) in the week.")
    on_time_rate: float | None = Field(description="Share of the week's closed tickets handled on time.")
    overdue: int = Field(description="Distinct tickets that got a yellow card (overdue) in the week.")
    returned: int = Field(description="Returns (退单) requested in the week.")
    median_hours_to_close: float | None = Field(
        description="Median working hours from dispatch to handled over the week's closed tickets."
    )
    satisfaction_rate: float | None = Field(
        description="Share satisfied or basically satisfied among the week's rated tickets."
    )


class UnitFigures(Figures):
    code: str
    name: str
    short_name: str


class StreetFigures(Figures):
    street_code: str | None = Field(description="Null for tickets that could not be located.")
    street_name: str


class RankedUnit(BaseModel):
    rank: int
    code: str
    short_name: str
    received: int
    on_time_rate: float | None
    satisfaction_rate: float | None
    median_hours_to_close: float | None


class ListedUnit(RankedUnit):
    reasons: list[str]


class ThresholdsRead(BaseModel):
    red_on_time: float
    red_satisfaction: float
    black_on_time: float
    black_satisfaction: float
    min_received: int


class WeeklyReportRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    week: str = Field(examples=["2026-W47"])
    from_: datetime = Field(alias="from", description="Monday 00:00 CST, inclusive.")
    to: datetime = Field(description="The next Monday 00:00 CST, exclusive.")
    generated_at: datetime
    thresholds: ThresholdsRead
    units: list[UnitFigures]
    streets: list[StreetFigures]
    totals: Figures
    ranking: list[RankedUnit]
    red_list: list[ListedUnit]
    black_list: list[ListedUnit]


# --- the report -----------------------------------------------------------------------------------------


def week_window(week: str) -> tuple[datetime, datetime]:
    """'2026-W47' → (Monday 00:00 CST, next Monday 00:00 CST). Raises ValueError on a bad or missing week."""
    m = _WEEK.fullmatch(week) if isinstance(week, str) else None
    if m is None:
        raise ValueError(f"week must be an ISO week like 2026-W47, got {week!r}")
    year, number = int(m.group(1)), int(m.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"week {week} does not exist: ISO year {year} has no week {number}") from None
    start = datetime.combine(monday, time(0), CST)
    return start, start + timedelta(days=7)


def _scope(column: Any, prefixes: Sequence[str] | None) -> ColumnElement[bool]:
    if prefixes is None:
        return true()
    if not prefixes:
        return false()
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes))


def _grouped(unit: Any, street: Any) -> Any:
    # grouping() is 1 for the per-unit rows, 2 for the per-street rows, 3 for the total
    return func.grouping_sets(tuple_(unit), tuple_(street), tuple_())


def _counted(scope: Any) -> list[ColumnElement[bool]]:
    t = Ticket.__table__.c
    return [t.status.not_in(NOT_A_CASE), scope(t.street_code)]


async def _received_rows(session: AsyncSession, start: datetime, end: datetime, scope: Any) -> list[Any]:
    # plain (unit, street) groups, rolled up in Python: a hash aggregate over the week's tickets is
    # several times cheaper than GROUPING SETS' sorts, and counts add up
    t = Ticket.__table__.c
    stmt = (
        select(
            t.unit,
            t.street_code,
            func.max(t.street_name).label("street_name"),
            func.count().label("received"),
        )
        .where(t.created_at >= start, t.created_at < end, *_counted(scope))
        .group_by(t.unit, t.street_code)
    )
    return list((await session.execute(stmt)).all())


async def _closed_rows(session: AsyncSession, start: datetime, end: datetime, scope: Any) -> list[Any]:
    # medians do not add up, so this one groups in SQL, per unit, per street and overall at once
    t = Ticket.__table__.c
    stmt = (
        select(
            func.grouping(t.unit, t.street_code).label("g"),
            t.unit,
            t.street_code,
            func.max(t.street_name).label("street_name"),
            func.count().label("closed"),
            func.count(t.on_time).label("timed"),
            func.count().filter(t.on_time.is_(True)).label("on_time"),
            func.percentile_cont(0.5).within_group(t.work_seconds).label("median_s"),
        )
        .where(t.closed_at >= start, t.closed_at < end, *_counted(scope))
        .group_by(_grouped(t.unit, t.street_code))
    )
    return list((await session.execute(stmt)).all())


async def _rated_rows(session: AsyncSession, start: datetime, end: datetime, scope: Any) -> list[Any]:
    t = Ticket.__table__.c
    stmt = (
        select(
            t.unit,
            t.street_code,
            func.max(t.street_name).label("street_name"),
            func.count(t.satisfaction).label("rated"),
            func.count().filter(t.satisfaction.in_(SATISFIED)).label("satisfied"),
        )
        .where(t.feedback_at >= start, t.feedback_at < end, *_counted(scope))
        .group_by(t.unit, t.street_code)
    )
    return list((await session.execute(stmt)).all())


async def _overdue_rows(session: AsyncSession, start: datetime, end: datetime, scope: Any) -> list[Any]:
    s = Supervision.__table__.c
    stmt = (
        select(
            func.grouping(s.unit, s.street_code).label("g"),
            s.unit,
            s.street_code,
            func.count(s.ticket_id.distinct()).label("overdue"),
        )
        .where(s.kind == "yellow", s.created_at >= start, s.created_at < end, scope(s.street_code))
        .group_by(_grouped(s.unit, s.street_code))
    )
    return list((await session.execute(stmt)).all())


async def _return_rows(session: AsyncSession, start: datetime, end: datetime, scope: Any) -> list[Any]:
    r, t = TicketReturn.__table__, Ticket.__table__
    stmt = (
        select(
            r.c.unit,
            t.c.street_code,
            func.max(t.c.street_name).label("street_name"),
            func.count().label("returned"),
        )
        .select_from(r.join(t, t.c.id == r.c.ticket_id))
        .where(r.c.requested_at >= start, r.c.requested_at < end, scope(t.c.street_code))
        .group_by(r.c.unit, t.c.street_code)
    )
    return list((await session.execute(stmt)).all())


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(c: Mapping[str, Any]) -> dict[str, Any]:
    median = c.get("median_s")
    return {
        "received": c.get("received", 0),
        "closed": c.get("closed", 0),
        "on_time_rate": _share(c.get("on_time", 0), c.get("timed", 0)),
        "overdue": c.get("overdue", 0),
        "returned": c.get("returned", 0),
        "median_hours_to_close": None if median is None else round(median / 3600, 2),
        "satisfaction_rate": _share(c.get("satisfied", 0), c.get("rated", 0)),
    }


def _pct(share: float) -> str:
    return f"{share * 100:.6g}%"


def _pct_vs(rate: float, limit: float) -> str:
    """The rate with one decimal, or two when one decimal would print the threshold itself."""
    shown = f"{rate * 100:.1f}%"
    if round(rate * 100, 1) == round(limit * 100, 1) and rate != limit:
        shown = f"{rate * 100:.2f}%"
    return shown


def _rank_key(u: Mapping[str, Any]) -> tuple[Any, ...]:
    def desc(v: float | None) -> tuple[bool, float]:
        return (v is None, -(v or 0.0))

    median = u["median_hours_to_close"]
    return (
        *desc(u["on_time_rate"]),
        *desc(u["satisfaction_rate"]),
        median is None,
        median or 0.0,
        u["code"],
    )


def _black_reasons(u: Mapping[str, Any], th: Thresholds) -> list[str]:
    reasons = []
    if u["on_time_rate"] is not None and u["on_time_rate"] < th.black_on_time:
        reasons.append(
            f"按时办结率 {_pct_vs(u['on_time_rate'], th.black_on_time)} < {_pct(th.black_on_time)}"
        )
    if u["satisfaction_rate"] is not None and u["satisfaction_rate"] < th.black_satisfaction:
        reasons.append(
            f"群众满意率 {_pct_vs(u['satisfaction_rate'], th.black_satisfaction)} < "
            f"{_pct(th.black_satisfaction)}"
        )
    return reasons


def _red_reasons(u: Mapping[str, Any], th: Thresholds) -> list[str]:
    rate, sat = u["on_time_rate"], u["satisfaction_rate"]
    overdue_share = u["overdue"] / u["received"] if u["received"] else 0.0
    if rate is None or rate < th.red_on_time or overdue_share > 1 - th.red_on_time:
        return []
    if sat is not None and sat < th.red_satisfaction:
        return []
    reasons = [f"按时办结率 {_pct_vs(rate, th.red_on_time)} ≥ {_pct(th.red_on_time)}"]
    if sat is None:
        reasons.append("本周无满意度评价")
    else:
        reasons.append(f"群众满意率 {_pct_vs(sat, th.red_satisfaction)} ≥ {_pct(th.red_satisfaction)}")
    if u["overdue"]:
        reasons.append(
            f"超期黄牌 {u['overdue']} 件，占受理 {overdue_share * 100:.1f}% ≤ {_pct(1 - th.red_on_time)}"
        )
    else:
        reasons.append("无超期黄牌")
    return reasons


def _ranked(u: Mapping[str, Any], rank: int) -> dict[str, Any]:
    keys = ("code", "short_name", "received", "on_time_rate", "satisfaction_rate", "median_hours_to_close")
    return {"rank": rank, **{k: u[k] for k in keys}}


async def weekly_report(
    session: AsyncSession,
    *,
    week: str,
    thresholds: Thresholds,
    street_prefixes: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The weekly review for `week` ('2026-W47'), over the whole district or, with `street_prefixes`
    (a street dispatcher's area-code prefixes), over the tickets of those streets only."""
    start, end = week_window(week)

    def scope(column: Any) -> ColumnElement[bool]:
        return _scope(column, street_prefixes)

    # per group: {(g, unit or street_code): {"received": ..., ...}}, g as grouping() numbers it:
    # 1 per unit, 2 per street, 3 the total
    counts: dict[tuple[int, str | None], dict[str, Any]] = {}
    names: dict[str | None, str] = {}
    for rows in (
        await _received_rows(session, start, end, scope),
        await _closed_rows(session, start, end, scope),
        await _rated_rows(session, start, end, scope),
        await _overdue_rows(session, start, end, scope),
        await _return_rows(session, start, end, scope),
    ):
        for row in rows:
            m = dict(row._mapping)
            unit, street, name = m.pop("unit"), m.pop("street_code"), m.pop("street_name", None)
            if street is not None and name:
                names.setdefault(street, name)
            g = m.pop("g", None)
            if g is not None:  # already grouped in SQL
                counts.setdefault((g, unit if g == 1 else street if g == 2 else None), {}).update(m)
                continue
            keys = [(2, street), (3, None)] + ([(1, unit)] if unit is not None else [])
            for key in keys:
                group = counts.setdefault(key, {})
                for k, v in m.items():
                    group[k] = group.get(k, 0) + v

    departments = (await session.execute(select(Department).order_by(Department.code))).scalars().all()
    units = [
        {"code": d.code, "name": d.name, "short_name": d.short_name, **_figures(counts.get((1, d.code), {}))}
        for d in departments
    ]

    street_codes = sorted((k for g, k in counts if g == 2), key=lambda c: (c is None, c or ""))
    for code in street_codes:
        if code is not None and code not in names:  # a street seen only on a yellow card
            name = await session.scalar(
                select(Ticket.street_name)
                .where(Ticket.street_code == code, Ticket.street_name.is_not(None))
                .limit(1)
            )
            names[code] = name or code
    streets = [
        {
            "street_code": code,
            "street_name": UNLOCATED if code is None else names[code],
            **_figures(counts[(2, code)]),
        }
        for code in street_codes
    ]

    ranked = sorted((u for u in units if u["received"] >= thresholds.min_received), key=_rank_key)
    ranking = [_ranked(u, i) for i, u in enumerate(ranked, 1)]
    black_list, red_list = [], []
    for entry, u in zip(ranking, ranked, strict=True):
        if reasons := _black_reasons(u, thresholds):
            black_list.append({**entry, "reasons": reasons})
        elif reasons := _red_reasons(u, thresholds):
            red_list.append({**entry, "reasons": reasons})

    return {
        "week": week,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "generated_at": datetime.now(CST).isoformat(timespec="seconds"),
        "thresholds": asdict(thresholds),
        "units": units,
        "streets": streets,
        "totals": _figures(counts.get((3, None), {})),
        "ranking": ranking,
        "red_list": red_list,
        "black_list": black_list,
    }


# --- renderings -------------------------------------------------------------------------------------------

_COLUMNS = (  # (key, header, width, number format)
    ("received", "受理数", 9, "0"),
    ("closed", "办结数", 9, "0"),
    ("on_time_rate", "按时办结率", 12, "0.0%"),
    ("overdue", "超期（黄牌）数", 14, "0"),
    ("returned", "退单数", 9, "0"),
    ("median_hours_to_close", "办结用时中位数（工作小时）", 24, "0.00"),
    ("satisfaction_rate", "群众满意率", 12, "0.0%"),
)


def _title(report: Mapping[str, Any]) -> str:
    generated = datetime.fromisoformat(report["generated_at"]).astimezone(CST)
    start = datetime.fromisoformat(report["from"]).astimezone(CST).date()
    last = datetime.fromisoformat(report["to"]).astimezone(CST).date() - timedelta(days=1)
    return (
        f"一周一点评 {report['week']}（{start:%Y-%m-%d} 至 {last:%Y-%m-%d}）"
        f"  生成时间 {generated:%Y-%m-%d %H:%M}"
    )


def _sheet(
    wb: Any,
    title: str,
    heading: str,
    columns: Sequence[tuple[str, str, int, str | None]],
    rows: Iterable[Sequence[Any]],
) -> None:
    ws = wb.create_sheet(title)
    ws.append([heading])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([header for _, header, _, _ in columns])
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(list(row))
        for cell, (_, _, _, fmt) in zip(ws[ws.max_row], columns, strict=True):
            if fmt:
                cell.number_format = fmt
    for i, (_, _, width, _) in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3"  # title and header stay put


def report_xlsx(report: Mapping[str, Any]) -> bytes:
    """The report as a workbook: sheets 单位, 街道 and 红黑榜, a title row with the week, then the header."""
    wb = Workbook()
    wb.remove(wb.active)
    heading = _title(report)
    figure_cols = [(k, h, w, f) for k, h, w, f in _COLUMNS]
    totals = report["totals"]

    _sheet(
        wb,
        "单位",
        heading,
        [
            ("code", "单位代码", 10, None),
            ("name", "单位名称", 44, None),
            ("short_name", "简称", 10, None),
            *figure_cols,
        ],
        [[u["code"], u["name"], u["short_name"], *(u[k] for k, *_ in _COLUMNS)] for u in report["units"]]
        + [[None, "合计", None, *(totals[k] for k, *_ in _COLUMNS)]],
    )
    _sheet(
        wb,
        "街道",
        heading,
        [("street_code", "街道代码", 14, None), ("street_name", "街道名称", 20, None), *figure_cols],
        [[s["street_code"], s["street_name"], *(s[k] for k, *_ in _COLUMNS)] for s in report["streets"]]
        + [[None, "合计", *(totals[k] for k, *_ in _COLUMNS)]],
    )
    _sheet(
        wb,
        "红黑榜",
        heading,
        [
            ("list", "榜单", 8, None),
            ("rank", "排名", 7, "0"),
            ("code", "单位代码", 10, None),
            ("short_name", "单位", 12, None),
            ("received", "受理数", 9, "0"),
            ("on_time_rate", "按时办结率", 12, "0.0%"),
            ("satisfaction_rate", "群众满意率", 12, "0.0%"),
            ("median_hours_to_close", "办结用时中位数（工作小时）", 24, "0.00"),
            ("reasons", "理由", 60, None),
        ],
        [
            [
                label,
                e["rank"],
                e["code"],
                e["short_name"],
                e["received"],
                e["on_time_rate"],
                e["satisfaction_rate"],
                e["median_hours_to_close"],
                "；".join(e["reasons"]),
            ]
            for label, key in (("红榜", "red_list"), ("黑榜", "black_list"))
            for e in report[key]
        ],
    )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, SimHei, sans-serif"
_RED, _BLACK, _OTHER, _SATISFACTION = "#d32f2f", "#263238", "#78909c", "#4a90d9"


def report_svg(report: Mapping[str, Any]) -> str:
    """A horizontal bar chart of each ranked unit's on-time rate (thick bar: red for the red list, dark
    for the black list, grey otherwise) with its satisfaction rate as a thin blue bar beneath.

    Hand-written SVG rather than a matplotlib PNG: the text stays text, so any government PC's browser
    draws the Chinese labels with whichever CJK font it has (the font-family list names the usual
    ones), while a PNG rendered on a server without CJK fonts shows empty boxes.
    """
    ranking = report["ranking"]
    red = {e["code"] for e in report["red_list"]}
    black = {e["code"] for e in report["black_list"]}
    left, plot_w, right, top, row_h, bottom = 110, 560, 70, 92, 34, 46
    width = left + plot_w + right
    height = top + max(len(ranking), 1) * row_h + bottom
    title = f"一周一点评 {report['week']} 各单位按时办结率"

    def x(share: float) -> float:
        return left + plot_w * max(0.0, min(1.0, share))

    def text(x_: float, y_: float, body: str, **attrs: Any) -> str:
        extra = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
        return f'<text x="{x_:.1f}" y="{y_:.1f}"{extra}>{escape(body)}</text>'

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family={quoteattr(_FONT)} font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        text(width / 2, 30, title, text_anchor="middle", font_size=18, font_weight="bold"),
    ]
    legend = [(_RED, "红榜"), (_BLACK, "黑榜"), (_OTHER, "其他参评单位"), (_SATISFACTION, "群众满意率")]
    lx = left
    for color, label in legend:
        out.append(f'<rect x="{lx}" y="46" width="14" height="10" fill="{color}"/>')
        out.append(text(lx + 18, 55, label, font_size=12))
        lx += 28 + 14 * len(label)
    plot_bottom = top + max(len(ranking), 1) * row_h
    for tick in (0, 25, 50, 75, 100):
        tx = x(tick / 100)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{plot_bottom}" stroke="#cfd8dc"/>')
        out.append(text(tx, plot_bottom + 18, f"{tick}%", text_anchor="middle", font_size=12))
    out.append(text(left + plot_w / 2, plot_bottom + 38, "比率（%）", text_anchor="middle", font_size=12))
    if not ranking:
        out.append(text(left + plot_w / 2, top + row_h / 2 + 5, "本周无参评单位", text_anchor="middle"))
    for i, e in enumerate(ranking):
        y = top + i * row_h
        color = _RED if e["code"] in red else _BLACK if e["code"] in black else _OTHER
        out.append(text(left - 8, y + 18, f"{e['rank']}. {e['short_name']}", text_anchor="end"))
        rate, sat = e["on_time_rate"], e["satisfaction_rate"]
        if rate is not None:
            out.append(
                f'<rect x="{left}" y="{y + 5}" width="{x(rate) - left:.1f}" height="16" fill="{color}">'
                f"<title>{escape(e['short_name'])} 按时办结率 {rate * 100:.1f}%</title></rect>"
            )
        out.append(
            text(x(rate or 0) + 4, y + 18, "—" if rate is None else f"{rate * 100:.1f}%", font_size=12)
        )
        if sat is not None:
            out.append(
                f'<rect x="{left}" y="{y + 23}" width="{x(sat) - left:.1f}" height="6" '
                f'fill="{_SATISFACTION}"><title>{escape(e["short_name"])} 群众满意率 {sat * 100:.1f}%'
                "</title></rect>"
            )
    out.append(f'<line x1="{left}" y1="{top - 6}" x2="{left}" y2="{plot_bottom}" stroke="#607d8b"/>')
    out.append("</svg>")
    return "\n".join(out)
