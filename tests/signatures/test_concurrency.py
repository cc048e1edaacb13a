"""Fifty identical submissions at the same moment, over real HTTP."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.core.mail import OutgoingEmail
from campaigns.signatures.models import Signature
from campaigns.supporters.models import Supporter
from tests.conftest import fresh
from tests.helpers import csrf_token, process_intake

SIMULTANEOUS = 50
PERSON = {"first_name": "Nadia", "last_name": "Haddad", "email": "nadia@example.org",
          "country": "MA"}


def all_at_once(send) -> list[int]:
    barrier = threading.Barrier(SIMULTANEOUS)

    def one(_):
        barrier.wait()
        return send()

    with ThreadPoolExecutor(SIMULTANEOUS) as pool:
        return list(pool.map(one, range(SIMULTANEOUS)))


def stored() -> tuple[int, int, int]:
    """What the worker recorded from the submissions."""
    process_intake()
    fresh()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Signature, Supporter, OutgoingEmail))


def test_simultaneous_api_submissions_leave_one_signature(live_server, campaign):
    url = f"{live_server}/api/v1/campaigns/{campaign.slug}/signatures"
    statuses = all_at_once(lambda: requests.post(url, json=PERSON, timeout=60).status_code)
    assert statuses == [202] * SIMULTANEOUS
    assert stored() == (1, 1, 1)


@pytest.mark.parametrize("spelling", ["nadia@example.org", "NADIA+x@example.org"])
def test_simultaneous_form_submissions_leave_one_signature(live_server, campaign, spelling):
    session = requests.Session()
    token = csrf_token(session.get(f"{live_server}/c/{campaign.slug}", timeout=30).text)
    data = {**PERSON, "email": spelling, "csrf_token": token}

    def post():
        response = session.post(f"{live_server}/c/{campaign.slug}/sign", data=data,
                                allow_redirects=False, timeout=60)
        return response.status_code, response.headers.get("Location")

    answers = all_at_once(post)
    assert set(answers) == {(303, f"/c/{campaign.slug}/thanks")}
    assert stored() == (1, 1, 1)
