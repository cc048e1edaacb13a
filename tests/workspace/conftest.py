"""Fixtures for the campaigner workspace: many signatures at once, forms through HTTP."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from campaigns.core.db import db, utcnow
from campaigns.signatures.models import CommentState, Signature, SignatureState
from campaigns.supporters.models import Supporter
from tests.helpers import csrf_token

_numbers = itertools.count(1)


@pytest.fixture
def add_signatures():
    """Insert ``n`` signatures in two statements (fast enough for thousands), then fold the
    confirmed ones into the public count as the beat task would."""

    def add(campaign, n: int = 1, country: str = "DE", confirmed: bool = True,
            public: bool = False, comment: str | None = None, first_name: str = "Signer",
            last_name: str = "Lastname", source: str | None = "web", days_ago: int = 0,
            **fields) -> list[int]:
        start = next(_numbers)
        for _ in range(n - 1):
            next(_numbers)
        emails = [f"w{start + i}-{campaign.id}@example.org" for i in range(n)]
        db.session.execute(insert(Supporter), [
            dict(email=e, canonical_email=e, first_name=first_name, last_name=last_name,
                 country=country) for e in emails])
        ids = db.session.scalars(select(Supporter.id).where(Supporter.canonical_email.in_(emails))
                                 .order_by(Supporter.id)).all()
        when = utcnow() - timedelta(days=days_ago)
        db.session.execute(insert(Signature), [
            {"campaign_id": campaign.id, "supporter_id": supporter_id, "public": public,
             "comment": comment, "source": source, "created_at": when,
             "state": SignatureState.CONFIRMED if confirmed else SignatureState.PENDING,
             "confirmed_at": when if confirmed else None,
             "comment_state": CommentState.PENDING, **fields} for supporter_id in ids])
        db.session.commit()
        if confirmed:
            from campaigns.signatures.tasks import reconcile_signature_counts

            reconcile_signature_counts()
        return db.session.scalars(select(Signature.id).where(Signature.supporter_id.in_(ids))
                                  .order_by(Signature.id)).all()

    return add


@pytest.fixture
def submit(client):
    """Open a page, then post its form with the page's CSRF token."""

    def do_submit(page_url: str, action: str, data: dict, **kwargs):
        page = client.get(page_url)
        assert page.status_code == 200, page.status_code
        return client.post(action, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                         **data}, **kwargs)

    return do_submit


@pytest.fixture
def org_campaign(make_campaign):
    """A campaign run by the organisation "Union A"."""
    from campaigns.accounts.models import Organisation

    organisation = Organisation(name="Union A")
    db.session.add(organisation)
    db.session.commit()
    return make_campaign(slug="garment-appeal", organisation_id=organisation.id)


