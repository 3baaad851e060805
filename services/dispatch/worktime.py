"""China's working calendar and working-hour deadlines (工作时).

Deadlines in 12345 and 数字城管 practice count only working hours: by default 08:30–12:00 and
14:00–17:30 (7 hours a day) on official working days. Official working days are weekdays that are not
public holidays, plus the weekend make-up days (调休) the State Council announces each year. The
`chinese_calendar` package carries those announcements; for a year it does not know yet, the calendar
falls back to Monday–Friday and says so, and a district can enter the year's announcement as
overrides (holidays and make-up days) without waiting for a library release.

The clock can pause (an approved extension, waiting for the resident): paused spans do not count.
All times are China Standard Time (UTC+8, no daylight saving since 1991).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar

log = logging.getLogger("gridgov.dispatch.worktime")

CST = timezone(timedelta(hours=8), "CST")
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class WorkingHours:
    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))

    def __post_init__(self) -> None:
        last = time(0, 0)
        for start, end in self.periods:
            if not (last <= start < end):
                raise ValueError("working periods must be ordered, non-overlapping and non-empty")
            last = end

    @property
    def hours_per_day(self) -> float:
        return sum(_seconds(s, e) for s, e in self.periods) / 3600

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """'08:30-12:00,14:00-17:30' → WorkingHours."""
        periods = []
        for part in text.split(","):
            a, b = part.strip().split("-")
            periods.append((time.fromisoformat(a.strip()), time.fromisoformat(b.strip())))
        return cls(tuple(periods))


def _seconds(a: time, b: time) -> float:
    return (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds()


@dataclass
class WorkCalendar:
    hours: WorkingHours = field(default_factory=WorkingHours)
    # date → True (a working day, e.g. a make-up day) or False (a holiday), overriding everything else
    overrides: Mapping[date, bool] = field(default_factory=dict)
    _warned_years: set[int] = field(default_factory=set, repr=False)
    # Every deadline walks day by day and the library validates each date: remember each day's periods.
    _day_periods: dict[date, tuple[Span, ...]] = field(default_factory=dict, repr=False)

    def is_workday(self, d: date) -> bool:
        if d in self.overrides:
            return self.overrides[d]
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:
            if d.year not in self._warned_years:
                self._warned_years.add(d.year)
                log.warning(
                    "no official calendar for %s; counting Monday–Friday until overrides are entered", d.year
                )
            return d.weekday() < 5

    def _periods(self, d: date) -> tuple[Span, ...]:
        spans = self._day_periods.get(d)
        if spans is None:
            spans = (
                tuple(
                    (datetime.combine(d, s, CST), datetime.combine(d, e, CST)) for s, e in self.hours.periods
                )
                if self.is_workday(d)
                else ()
            )
            if len(self._day_periods) > 20_000:  # decades of days; a bound, not an expected size
                self._day_periods.clear()
            self._day_periods[d] = spans
        return spans

    def working_seconds_between(self, start: datetime, end: datetime, pauses: Iterable[Span] = ()) -> float:
        """Working seconds in [start, end), less any paused spans."""
        start, end = start.astimezone(CST), end.astimezone(CST)
        if end <= start:
            return 0.0
        pauses = _merge(pauses)
        total = 0.0
        d = start.date()
        while d <= end.date():
            for ps, pe in self._periods(d):
                a, b = max(ps, start), min(pe, end)
                if a < b:
                    total += (b - a).total_seconds() - _overlap(a, b, pauses)
            d += timedelta(days=1)
        return total

    def add_working_hours(self, start: datetime, hours: float, pauses: Iterable[Span] = ()) -> datetime:
        """The moment `hours` working hours after `start` (a deadline), skipping paused spans."""
        if hours < 0:
            raise ValueError("hours must not be negative")
        remaining = hours * 3600
        start = start.astimezone(CST)
        pauses = _merge(pauses)
        d = start.date()
        for _ in range(3660):  # ten years of days: a deadline beyond that is a data error
            for ps, pe in self._periods(d):
                a = max(ps, start)
                if a >= pe:
                    continue
                for ws, we in _subtract(a, pe, pauses):
                    span = (we - ws).total_seconds()
                    if remaining <= span:
                        return ws + timedelta(seconds=remaining)
                    remaining -= span
            d += timedelta(days=1)
        raise ValueError("deadline is more than ten years away")


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted((s.astimezone(CST), e.astimezone(CST)) for s, e in spans if e > s):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _overlap(a: datetime, b: datetime, pauses: list[Span]) -> float:
    return sum(max(0.0, (min(b, pe) - max(a, ps)).total_seconds()) for ps, pe in pauses)


def _subtract(a: datetime, b: datetime, pauses: list[Span]) -> list[Span]:
    """[a, b) with the paused spans cut out."""
    pieces = [(a, b)]
    for ps, pe in pauses:
        nxt = []
        for s, e in pieces:
            if pe <= s or ps >= e:
                nxt.append((s, e))
                continue
            if s < ps:
                nxt.append((s, ps))
            if pe < e:
                nxt.append((pe, e))
        pieces = nxt
    return pieces
