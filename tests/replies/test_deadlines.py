"""Deadlines in calendar and working days, reminders and overdue threads, with an injected clock."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from campaigns.core.db import db
from campaigns.core.mail import OutgoingEmail
from campaigns.replies import deadlines, operations
from campaigns.replies.models import EventKind, ReplyThread, ThreadEvent, ThreadStatus
from tests.conftest import fresh
from tests.replies.conftest import address_of


@pytest.fixture
def working_days(app):
    app.config.update(REPLY_CALENDAR="working", REPLY_HOLIDAYS="2026-12-25,2026-12-28")
    yield
    app.config.update(REPLY_CALENDAR="calendar", REPLY_HOLIDAYS="")


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def test_calendar_days():
    assert deadlines.add_days(date(2026, 12, 18), 14, "calendar") == date(2027, 1, 1)


def test_working_days_skip_weekends_and_holidays(working_days):
    # Friday 18 Dec + 10 working days: 21-24 (4), 25 holiday, 28 holiday, 29-31 (3), 1-4 Jan (Fri 1, Mon 4)
    assert deadlines.add_days(date(2026, 12, 18), 10) == date(2027, 1, 5)
    assert deadlines.add_days(date(2026, 12, 18), 10, "calendar") == date(2026, 12, 28)
    # three working days before Tuesday 29 Dec (28 and 25 are holidays): 24, 23, 22 -> Tuesday 22
    assert deadlines.reminder_day(date(2026, 12, 29)) == date(2026, 12, 22)


def test_a_thread_gets_the_default_deadline_from_the_launch(app, launched, working_days):
    campaign = launched(at(date(2026, 12, 18)))
    thread = operations.ensure_thread(campaign.targets[0])
    db.session.commit()
    # 14 working days from Friday 18 Dec, by hand (25 and 28 Dec are holidays):
    # 21, 22, 23, 24 (4); 29, 30, 31 (7); 1 Jan (8); 4, 5, 6, 7, 8 (13); 11 Jan (14)
    assert thread.deadline == date(2027, 1, 11)
    assert [d.text for d in thread.demands] == ["Reinstate them, Brand of campaign-1."]


def test_demands_are_the_list_items_of_the_ask():
    ask = "We ask you to:\n\n- reinstate the 14 leaders\n- pay back wages\n2. recognise the union\n"
    assert operations.demands_from_ask(ask) == ["reinstate the 14 leaders", "pay back wages",
                                                "recognise the union"]


def test_reminder_once_then_overdue_once_with_the_campaigner_told(app, launched, make_campaigner,
                                                                  mail_sink, celery_worker):
    from campaigns.accounts.models import Organisation

    organisation = Organisation(name="Union R")
    db.session.add(organisation)
    db.session.commit()
    campaigner = make_campaigner("campaigner", email="lead@union-r.example", organisation="Union R")
    launched_at = at(date(2026, 3, 2))
    campaign = launched(launched_at, organisation_id=organisation.id)
    target = campaign.targets[0].target
    contact_email = target.contacts[0].email

    # day 10: nothing due yet (the reminder goes 3 days before the deadline of 16 March)
    assert operations.run_deadlines(at(date(2026, 3, 12))) == {"reminded": 0, "overdue": 0}
    thread = db.session.scalars(select(ReplyThread)).one()
    assert thread.deadline == date(2026, 3, 16)
    # day 13: the reminder, once however often the job runs
    assert operations.run_deadlines(at(date(2026, 3, 13))) == {"reminded": 1, "overdue": 0}
    assert operations.run_deadlines(at(date(2026, 3, 13), 10)) == {"reminded": 0, "overdue": 0}
    assert operations.run_deadlines(at(date(2026, 3, 16))) == {"reminded": 0, "overdue": 0}
    [reminder] = mail_sink.wait_for(contact_email)
    assert reminder.message["Reply-To"] == address_of(thread)
    assert campaign.title in reminder.subject
    # the day after the deadline: overdue, the campaigner told once
    assert operations.run_deadlines(at(date(2026, 3, 17))) == {"reminded": 0, "overdue": 1}
    assert operations.run_deadlines(at(date(2026, 3, 18))) == {"reminded": 0, "overdue": 0}
    [notice] = mail_sink.wait_for(campaigner.email)
    assert "overdue" in notice.subject
    fresh()
    thread = db.session.get(ReplyThread, thread.id)
    assert thread.status == ThreadStatus.OVERDUE
    kinds = [e.kind for e in db.session.scalars(select(ThreadEvent).filter_by(thread_id=thread.id))]
    assert kinds.count(EventKind.REMINDER_SENT) == 1
    assert kinds.count(EventKind.STATUS_CHANGED) == 1
    emails = db.session.scalars(select(OutgoingEmail.kind)).all()
    assert sorted(emails) == ["reply_overdue", "reply_reminder"]

    # more time: awaiting again, and a new reminder before the new deadline
    operations.set_deadline(thread, date(2026, 3, 30), today=date(2026, 3, 18))
    db.session.commit()
    assert thread.status == ThreadStatus.AWAITING
    assert operations.run_deadlines(at(date(2026, 3, 27))) == {"reminded": 1, "overdue": 0}


def test_working_day_deadlines_in_the_job(app, launched, working_days):
    campaign = launched(at(date(2026, 12, 18)))
    operations.run_deadlines(at(date(2026, 12, 18)))
    thread = db.session.scalars(select(ReplyThread)).one()
    assert thread.deadline == date(2027, 1, 11)
    # reminder 3 working days before Monday 11 Jan: Wednesday 6 Jan
    assert operations.run_deadlines(at(date(2027, 1, 5))) == {"reminded": 0, "overdue": 0}
    assert operations.run_deadlines(at(date(2027, 1, 6))) == {"reminded": 1, "overdue": 0}
    assert operations.run_deadlines(at(date(2027, 1, 11))) == {"reminded": 0, "overdue": 0}
    assert operations.run_deadlines(at(date(2027, 1, 12))) == {"reminded": 0, "overdue": 1}
    assert campaign.targets[0].id == thread.campaign_target_id


def test_a_replied_thread_is_never_overdue(launched, post_mail):
    from tests.replies.conftest import build_message

    campaign = launched(at(date(2026, 3, 2)))
    operations.run_deadlines(at(date(2026, 3, 2)))
    thread = db.session.scalars(select(ReplyThread)).one()
    assert post_mail(build_message(address_of(thread))).json["state"] == "attached"
    fresh()
    assert operations.run_deadlines(at(date(2026, 4, 1))) == {"reminded": 0, "overdue": 0}
    assert db.session.get(ReplyThread, thread.id).status == ThreadStatus.REPLY_RECEIVED
    assert campaign


def test_the_letters_feature_adds_a_public_event(thread):
    from campaigns.replies.timeline import letter_wave_sent

    letter_wave_sent(thread.campaign_target_id, 120)
    db.session.commit()
    fresh()
    [event] = db.session.scalars(select(ThreadEvent).filter_by(thread_id=thread.id)).all()
    assert event.kind == EventKind.LETTER_WAVE_SENT and event.public and event.details == {"letters": 120}


def test_transitions_are_enforced(thread):
    with pytest.raises(operations.NotAllowed):
        operations.change_status(thread, ThreadStatus.VERIFIED)
    operations.change_status(thread, ThreadStatus.CLOSED)
    with pytest.raises(operations.NotAllowed):
        operations.change_status(thread, ThreadStatus.AWAITING)
