"""Imports every model so that Alembic and the ORM see the whole schema."""
# ruff: noqa: F401
from campaigns.abuse.models import InvalidationJob
from campaigns.actions.models import ActionTarget, EmailAction, Letter
from campaigns.accounts.models import Campaigner, Organisation
from campaigns.audit.models import AuditEvent
from campaigns.bundles.models import DeliveryBundle, DeliveryBundlePart
from campaigns.consultations.models import WorkerConsultation
from campaigns.core.mail import OutgoingEmail
from campaigns.donations.models import Donation, RecurringGift, StripeEvent
from campaigns.paper.models import PaperBatch
from campaigns.petitions.models import Campaign, CampaignTarget
from campaigns.signatures.models import Signature, SignatureCountChange
from campaigns.supporters.models import Consent, Supporter
from campaigns.targets.models import Contact, Target
from campaigns.updates.models import CampaignUpdate, CampaignUpdateRecipient
from campaigns.replies.models import (
    Commitment,
    Demand,
    DemandGrade,
    InboundMessage,
    Reply,
    ReplyAttachment,
    ReplyThread,
    ThreadEvent,
)
