"""Working-hour deadlines on China's official calendar, across a real holiday and make-up workdays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.dispatch.worktime import CST, WorkCalendar, WorkingHours


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CST)


@pytest.fixture
def cal():
    return WorkCalendar()


class TestFourWorkingHourRule:
    def test_friday_afternoon_runs_into_monday_morning(self, cal):
        # Fri 2026-11-20 16:00: 1.5 h on Friday, 2.5 h on Monday from 08:30
        assert cal.add_working_hours(at(2026, 11, 20, 16), 4) == at(2026, 11, 23, 11, 0)

    def test_lunch_break_does_not_count(self, cal):
        assert cal.add_working_hours(at(2026, 11, 23, 11), 2) == at(2026, 11, 23, 15, 0)

    def test_report_at_night_starts_counting_next_working_morning(self, cal):
        assert cal.add_working_hours(at(2026, 11, 22, 23, 30), 4) == at(2026, 11, 23, 14, 30)

    def test_utc_input_is_read_as_china_time(self, cal):
        utc = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
        assert cal.add_working_hours(utc, 1) == at(2026, 11, 23, 10)


class TestOfficialCalendar:
    def test_spring_festival_holiday_is_skipped(self, cal):
        # 2026 春节: holiday Sun 15 Feb – Mon 23 Feb; Tue 24 Feb is the first working day after it.
        assert not cal.is_workday(date(2026, 2, 16))
        assert not cal.is_workday(date(2026, 2, 23))
        assert cal.add_working_hours(at(2026, 2, 14, 17), 7) == at(2026, 2, 24, 17, 0)

    def test_make_up_saturday_is_a_working_day(self, cal):
        # Sat 14 Feb 2026 is a 调休 working day: a report on Friday evening is due on Saturday.
        assert cal.is_workday(date(2026, 2, 14))
        assert cal.add_working_hours(at(2026, 2, 13, 17), 4) == at(2026, 2, 14, 12, 0)

    def test_national_day_and_its_make_up_saturday(self, cal):
        assert not cal.is_workday(date(2026, 10, 1))
        assert cal.is_workday(date(2026, 10, 10))  # Saturday, 调休

    def test_year_without_an_official_calendar_falls_back_to_weekdays(self, cal):
        assert cal.is_workday(date(2031, 1, 3))  # a Friday
        assert not cal.is_workday(date(2031, 1, 4))  # a Saturday

    def test_district_overrides_win(self):
        cal = WorkCalendar(overrides={date(2031, 1, 3): False, date(2031, 1, 4): True})
        assert not cal.is_workday(date(2031, 1, 3))
        assert cal.is_workday(date(2031, 1, 4))


class TestPauses:
    def test_an_approved_extension_pauses_the_clock(self, cal):
        pause = [(at(2026, 11, 23, 8, 30), at(2026, 11, 23, 12, 0))]  # Monday morning on hold
        assert cal.add_working_hours(at(2026, 11, 20, 16), 4, pause) == at(2026, 11, 23, 16, 30)
        assert cal.working_seconds_between(at(2026, 11, 20, 16), at(2026, 11, 23, 16, 30), pause) == 4 * 3600

    def test_overlapping_pauses_count_once(self, cal):
        pauses = [
            (at(2026, 11, 23, 9), at(2026, 11, 23, 10)),
            (at(2026, 11, 23, 9, 30), at(2026, 11, 23, 11)),
        ]
        assert (
            cal.working_seconds_between(at(2026, 11, 23, 8, 30), at(2026, 11, 23, 12), pauses) == 1.5 * 3600
        )


class TestConsistency:
    @pytest.mark.parametrize(
        "start",
        [
            at(2026, 2, 13, 9, 17),
            at(2026, 2, 22, 3),
            at(2026, 9, 30, 17, 29),
            at(2026, 11, 21, 12),
            at(2026, 12, 31, 16, 45),
        ],
    )
    @pytest.mark.parametrize("hours", [0.5, 4, 7, 35, 105])
    def test_elapsed_time_to_a_deadline_is_the_limit(self, cal, start, hours):
        deadline = cal.add_working_hours(start, hours)
        assert cal.working_seconds_between(start, deadline) == pytest.approx(hours * 3600)
        assert deadline > start

    def test_configurable_hours(self):
        cal = WorkCalendar(hours=WorkingHours.parse("09:00-12:00, 13:30-18:00"))
        assert cal.hours.hours_per_day == 7.5
        assert cal.add_working_hours(at(2026, 11, 23, 11), 2) == at(2026, 11, 23, 14, 30)

    def test_bad_hours_are_refused(self):
        with pytest.raises(ValueError):
            WorkingHours.parse("14:00-12:00")
        with pytest.raises(ValueError):
            WorkCalendar().add_working_hours(at(2026, 11, 23), -1)
