"""Imports every model so that Alembic and the ORM see the whole schema."""
from campaigns.accounts.models import Campaigner, Organisation
from campaigns.audit.models import AuditEvent
from campaigns.bundles.models import DeliveryBundle, DeliveryBundlePart
from campaigns.core.mail import OutgoingEmail
from campaigns.paper.models import PaperBatch
from campaigns.petitions.models import Campaign, CampaignTarget
from campaigns.signatures.models import Signature, SignatureCountChange
from campaigns.supporters.models import Consent, Supporter
from campaigns.targets.models import Contact, Target

__all__ = ["Campaigner", "Organisation", "AuditEvent", "OutgoingEmail", "Campaign", "CampaignTarget", "Signature", "SignatureCountChange",
           "Consent", "Supporter", "Contact", "Target", "DeliveryBundle",
           "DeliveryBundlePart", "PaperBatch"]
