"""The rules of campaign updates: write, test, send once to each consenting signer."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from campaigns.audit.operations import record
from campaigns.core.celery import enqueue
from campaigns.core.db import after_commit, db, insert_ignoring_conflicts, utcnow
from campaigns.core.mail import EmailState, OutgoingEmail, queue_email
from campaigns.core.markdown import render_markdown
from campaigns.core.urls import external_url
from campaigns.petitions.models import Campaign
from campaigns.privacy.operations import mail_links
from campaigns.signatures.models import COUNTED_STATES, Signature
from campaigns.supporters.models import ConsentPurpose, Supporter
from campaigns.supporters.operations import consenting_supporter_ids
from campaigns.updates.models import (
    EDITABLE_STATES,
    CampaignUpdate,
    CampaignUpdateRecipient,
    UpdateState,
)

#: recipients picked and queued per transaction by the fan-out
FAN_OUT_BATCH = 500
#: a fan-out still sending after this long is queued again (harmless if it was only slow)
STALLED_AFTER = timedelta(minutes=10)


class NotEditable(Exception):
    """The update was already sent (or is being sent)."""


def create_update(campaign: Campaign, author, *, subject: str, body: str) -> CampaignUpdate:
    update = CampaignUpdate(campaign_id=campaign.id, author_id=author.id, subject=subject, body=body)
    db.session.add(update)
    db.session.flush()
    record("update.created", subject=update, campaign_id=campaign.id)
    return update


def edit_update(update: CampaignUpdate, *, subject: str, body: str) -> None:
    if update.state not in EDITABLE_STATES:
        raise NotEditable()
    update.subject, update.body = subject, body
    db.session.flush()


def recipients_query(campaign_id: int):
    """Supporters to mail: confirmed signers of the campaign, and supporters who sent it a
    confirmed letter, whose current consent to campaign updates is granted (and who were
    not erased), by id; each person once."""
    from campaigns.actions.operations import supporter_ids_who_wrote

    signed = select(Signature.supporter_id).where(Signature.campaign_id == campaign_id,
                                                  Signature.state.in_(COUNTED_STATES))
    return (
        select(Supporter.id)
        .where(or_(Supporter.id.in_(signed), Supporter.id.in_(supporter_ids_who_wrote(campaign_id))),
               Supporter.erased_at.is_(None),
               Supporter.id.in_(consenting_supporter_ids(ConsentPurpose.CAMPAIGN_UPDATES)))
        .order_by(Supporter.id)
    )


def count_recipients(campaign: Campaign) -> int:
    return db.session.scalar(select(func.count()).select_from(recipients_query(campaign.id).subquery()))


def _email_context(update: CampaignUpdate) -> dict:
    return dict(update=update, campaign=update.campaign, body_html=render_markdown(update.body),
                campaign_url=external_url("petitions.show", slug=update.campaign.slug))


def send_test(update: CampaignUpdate, campaigner) -> None:
    """Send the update to the campaigner only, marked as a test."""
    queue_email("campaign_update_test", campaigner.email, "updates/campaign_update",
                test=True, first_name=campaigner.name, unsubscribe_url=None, preferences_url=None,
                **_email_context(update))
    record("update.test_sent", subject=update)


def start_sending(update: CampaignUpdate) -> None:
    """Draft -> sending; the fan-out runs once the commit succeeded."""
    from campaigns.updates.tasks import fan_out_update

    if update.state not in EDITABLE_STATES:
        raise NotEditable()
    update.state = UpdateState.SENDING
    update.send_started_at = utcnow()
    update.recipient_total = count_recipients(update.campaign)
    db.session.flush()
    record("update.send_started", subject=update, recipients=update.recipient_total)
    update_id = update.id
    after_commit(lambda: enqueue(fan_out_update, update_id))


def queue_batch(update: CampaignUpdate, after_supporter_id: int, size: int = FAN_OUT_BATCH) -> int | None:
    """Queue the update for the next ``size`` recipients after ``after_supporter_id``.

    A recipient row is inserted with ON CONFLICT DO NOTHING: only a new row gets an email,
    so running this again (a restarted fan-out) mails nobody twice. Returns the last
    supporter id looked at, or None when there is nobody left.
    """
    supporter_ids = db.session.scalars(
        recipients_query(update.campaign_id).where(Supporter.id > after_supporter_id).limit(size)
    ).all()
    if not supporter_ids:
        return None
    context = _email_context(update)
    for supporter_id in supporter_ids:
        recipient_id = insert_ignoring_conflicts(
            CampaignUpdateRecipient, dict(update_id=update.id, supporter_id=supporter_id),
            ["update_id", "supporter_id"],
        )
        if recipient_id is None:
            continue
        supporter = db.session.get(Supporter, supporter_id)
        links, headers = mail_links(supporter)
        email = queue_email("campaign_update", supporter.email, "updates/campaign_update",
                            headers=headers, test=False, first_name=supporter.first_name,
                            **links, **context)
        db.session.get(CampaignUpdateRecipient, recipient_id).email_id = email.id
    db.session.flush()
    return supporter_ids[-1]


def finish_sending(update: CampaignUpdate) -> None:
    """Sending -> sent, once every recipient has an email in the outbox."""
    if update.state != UpdateState.SENDING:
        return
    update.state = UpdateState.SENT
    update.sent_at = utcnow()
    update.recipient_total = db.session.scalar(
        select(func.count()).select_from(CampaignUpdateRecipient)
        .where(CampaignUpdateRecipient.update_id == update.id))
    db.session.flush()
    record("update.sent", subject=update, actor=None, recipients=update.recipient_total)


def stalled_update_ids() -> list[int]:
    return list(db.session.scalars(
        select(CampaignUpdate.id).where(CampaignUpdate.state == UpdateState.SENDING,
                                        CampaignUpdate.send_started_at < utcnow() - STALLED_AFTER)
        .order_by(CampaignUpdate.id)
    ).all())


@dataclass(frozen=True)
class Progress:
    state: str
    #: recipients expected (final once sent)
    total: int
    #: emails in the outbox so far
    queued: int
    #: emails the SMTP server accepted
    delivered: int
    #: emails that could not be delivered
    failed: int

    @property
    def done(self) -> bool:
        return self.state == UpdateState.SENT and self.delivered + self.failed >= self.queued

    @property
    def label(self) -> str:
        return _("%(delivered)s of %(total)s emails delivered", delivered=self.delivered,
                 total=self.total)


def progress(update: CampaignUpdate) -> Progress:
    counts = dict(db.session.execute(
        select(OutgoingEmail.state, func.count())
        .join(CampaignUpdateRecipient, CampaignUpdateRecipient.email_id == OutgoingEmail.id)
        .where(CampaignUpdateRecipient.update_id == update.id)
        .group_by(OutgoingEmail.state)
    ).all())
    queued = sum(counts.values())
    return Progress(state=update.state.value, total=max(update.recipient_total, queued),
                    queued=queued, delivered=counts.get(EmailState.SENT, 0),
                    failed=counts.get(EmailState.FAILED, 0))
