"""Response deadlines, counted in calendar days or in working days (with holidays)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app

from campaigns.replies.models import DeadlineCalendar


def holidays() -> frozenset[date]:
    """REPLY_HOLIDAYS: ISO dates separated by commas."""
    raw = current_app.config.get("REPLY_HOLIDAYS") or ""
    if isinstance(raw, (list, tuple, set, frozenset)):
        return frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in raw)
    return frozenset(date.fromisoformat(part.strip()) for part in raw.split(",") if part.strip())


def is_working_day(day: date, closed: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in closed


def add_days(start: date, days: int, calendar: DeadlineCalendar | str | None = None) -> date:
    """The day ``days`` days after ``start``, in the configured (or given) calendar.

    In working days, weekends and REPLY_HOLIDAYS are skipped: 10 working days from a
    Friday is the Friday two weeks later, one more for each holiday on the way.
    """
    calendar = DeadlineCalendar(calendar or current_app.config["REPLY_CALENDAR"])
    if calendar == DeadlineCalendar.CALENDAR_DAYS:
        return start + timedelta(days=days)
    closed = holidays()
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day, closed):
            left -= 1
    return day


def default_deadline(launched_at: datetime | None, today: date) -> date:
    """REPLY_DEADLINE_DAYS after the launch (or after today, for a campaign not yet launched)."""
    start = launched_at.date() if launched_at else today
    return add_days(start, current_app.config["REPLY_DEADLINE_DAYS"])


def reminder_day(deadline: date) -> date:
    """REPLY_REMINDER_DAYS before the deadline, counted back in the same calendar."""
    calendar = DeadlineCalendar(current_app.config["REPLY_CALENDAR"])
    days = current_app.config["REPLY_REMINDER_DAYS"]
    if calendar == DeadlineCalendar.CALENDAR_DAYS:
        return deadline - timedelta(days=days)
    closed = holidays()
    day, left = deadline, days
    while left > 0:
        day -= timedelta(days=1)
        if is_working_day(day, closed):
            left -= 1
    return day
