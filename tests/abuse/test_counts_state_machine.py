"""Counts equal confirmed signatures, whatever order sign, confirm, invalidate, erase and
the background folding happen in, including a confirmation and an invalidation racing."""
from __future__ import annotations

import threading

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import delete, func, select

from campaigns.core.db import db
from campaigns.petitions.models import Campaign, CampaignStatus
from campaigns.signatures.models import Signature, SignatureCountChange, SignatureState
from campaigns.signatures.operations import confirm, invalidate
from campaigns.signatures.tasks import flush_signature_counts, reconcile_signature_counts
from campaigns.supporters.models import Supporter


def make_machine(app):
    class Counts(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.people = 0
            campaign = Campaign(slug=f"sm-{id(self)}", title="T", summary="S", story="",
                                status=CampaignStatus.LIVE)
            db.session.add(campaign)
            db.session.commit()
            self.campaign_id = campaign.id

        def signature_ids(self):
            db.session.rollback()
            return db.session.scalars(select(Signature.id).filter_by(campaign_id=self.campaign_id)
                                      .order_by(Signature.id)).all()

        @rule()
        def sign(self):
            self.people += 1
            email = f"sm{self.campaign_id}-{self.people}@example.org"
            supporter = Supporter(email=email, canonical_email=email, first_name="A",
                                  last_name="B", country="DE")
            db.session.add(supporter)
            db.session.flush()
            db.session.add(Signature(campaign_id=self.campaign_id, supporter_id=supporter.id))
            db.session.commit()

        @rule(pick=st.integers(min_value=0))
        def confirm_one(self, pick):
            ids = self.signature_ids()
            if ids:
                confirm(db.session.get(Signature, ids[pick % len(ids)]))
                db.session.commit()

        @rule(pick=st.integers(min_value=0))
        def invalidate_one(self, pick):
            ids = self.signature_ids()
            if ids:
                invalidate(ids[pick % len(ids)], "test")
                db.session.commit()

        @rule(pick=st.integers(min_value=0))
        def confirm_and_invalidate_at_once(self, pick):
            ids = self.signature_ids()
            if not ids:
                return
            signature_id = ids[pick % len(ids)]
            barrier = threading.Barrier(2)

            def run(action):
                with app.app_context():
                    barrier.wait()
                    action()
                    db.session.commit()

            threads = [
                threading.Thread(target=run, args=(lambda: confirm(db.session.get(Signature, signature_id)),)),
                threading.Thread(target=run, args=(lambda: invalidate(signature_id, "race"),)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        @rule(pick=st.integers(min_value=0))
        def erase_a_signer(self, pick):
            """Erasure forgets the person but keeps their signature counted."""
            from campaigns.privacy.operations import erase

            ids = self.signature_ids()
            if ids:
                signature = db.session.get(Signature, ids[pick % len(ids)])
                erase(signature.supporter)
                db.session.commit()

        @rule()
        def fold(self):
            flush_signature_counts()

        @rule()
        def reconcile(self):
            reconcile_signature_counts()

        @invariant()
        def count_matches_after_folding(self):
            flush_signature_counts()
            db.session.rollback()
            shown = db.session.scalar(select(Campaign.signature_count).filter_by(id=self.campaign_id))
            confirmed = db.session.scalar(select(func.count()).select_from(Signature).where(
                Signature.campaign_id == self.campaign_id,
                Signature.state == SignatureState.CONFIRMED))
            assert shown == confirmed

        def teardown(self):
            db.session.rollback()
            db.session.execute(delete(SignatureCountChange))
            db.session.execute(delete(Signature))
            db.session.execute(delete(Supporter))
            db.session.execute(delete(Campaign).where(Campaign.id == self.campaign_id))
            db.session.commit()

    return Counts


def test_counts_equal_confirmed_signatures(app):
    machine = make_machine(app)
    machine.TestCase.settings = settings(max_examples=15, stateful_step_count=15, deadline=None,
                                         suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
