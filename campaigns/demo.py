"""Fictional demo content for `flask seed-demo`. No real company is named here."""
from __future__ import annotations

import os
import random
import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from campaigns.consultations.models import RequesterKind, WorkerConsultation
from campaigns.core.db import db, utcnow
from campaigns.petitions.models import Campaign, CampaignStatus, CampaignTarget
from campaigns.signatures.models import Signature, SignatureState
from campaigns.signatures.tasks import reconcile_signature_counts
from campaigns.supporters.operations import canonical_email
from campaigns.supporters.models import Supporter
from campaigns.targets.models import Contact, Target, TargetKind

TARGETS = [
    dict(slug="northwind-athletics", name="Northwind Athletics", kind=TargetKind.BRAND,
         country="DE", website="https://northwind-athletics.example",
         description="Sportswear brand selling running and football gear in 40 countries.",
         contacts=[("Helena Brandt", "Chief Executive Officer", "ceo@northwind-athletics.example", False),
                   ("Jonas Weber", "Head of Corporate Responsibility", "csr@northwind-athletics.example", True)]),
    dict(slug="velora-apparel", name="Velora Apparel", kind=TargetKind.BRAND, country="NL",
         website="https://velora-apparel.example",
         description="Fashion brand known for basics and denim.",
         contacts=[("Maarten de Vries", "Chief Executive Officer", "office.ceo@velora-apparel.example", False),
                   ("Sofia Ruiz", "Director of Sustainability", "sustainability@velora-apparel.example", True)]),
    dict(slug="marlow-finch", name="Marlow & Finch", kind=TargetKind.RETAILER, country="GB",
         website="https://marlowfinch.example",
         description="High-street retailer with 600 stores.",
         contacts=[("Graham Holt", "Chief Executive Officer", "chief.executive@marlowfinch.example", False)]),
    dict(slug="crescent-textiles", name="Crescent Textiles Ltd.", kind=TargetKind.MANUFACTURER,
         country="BD", description="Garment manufacturer; owner of the closed Riverside factory.",
         contacts=[("A. Rahman", "Managing Director", "md@crescent-textiles.example", False)]),
    dict(slug="harbor-knitwear", name="Harbor Knitwear Co.", kind=TargetKind.SUPPLIER,
         country="KH", description="Knitwear supplier to several European brands.",
         contacts=[("Dara Sok", "General Manager", "gm@harbor-knitwear.example", False)]),
    dict(slug="ministry-of-labour", name="Ministry of Labour and Employment (demo)",
         kind=TargetKind.MINISTRY, country=None,
         description="The ministry responsible for labour inspection and the severance guarantee fund.",
         contacts=[("Office of the Minister", "Minister of Labour", "minister@labour-ministry.example", True),
                   # the supporter's postcode picks the regional office (Contact.areas)
                   ("Regional Labour Office, North (demo)", "Regional Labour Inspector",
                    "north.office@labour-ministry.example.org", False, ["12", "13"]),
                   ("Regional Labour Office, South (demo)", "Regional Labour Inspector",
                    "south.office@labour-ministry.example.org", False, ["40", "41"])]),
]

#: the email action on the Riverside appeal: a triangle (brand, factory owner, ministry),
#: each target with its own letter
DEMO_LETTERS = {
    "riverside-severance": {
        "northwind-athletics": (
            ["Pay the Riverside workers what they are owed",
             "Your supplier's workers are still waiting for their severance"],
            "I am writing about the 1,260 workers of the Riverside factory, who sewed your "
            "products until the factory closed overnight in March.\n\nThey are still owed three "
            "months' wages and their legal severance. Please pay the shortfall into the fund the "
            "union has set up, within 30 days.\n\nThank you for your answer."),
        "crescent-textiles": (
            ["Pay your Riverside workers"],
            "You closed the Riverside factory overnight and moved the machines out. Your "
            "workers are owed three months' wages and their severance under the law.\n\nPlease "
            "disclose the factory's accounts and pay what the law requires."),
        "ministry-of-labour": (
            ["Release the severance guarantee fund for Riverside",
             "The Riverside workers need the guarantee fund now"],
            "The 1,260 workers of the Riverside factory have waited months for wages and "
            "severance since their employer fled.\n\nPlease release the severance guarantee "
            "fund to them and prosecute the owner's flight."),
    },
}

CAMPAIGNS = [
    dict(
        slug="riverside-severance",
        title="Pay the 1,260 Riverside workers the severance they are owed",
        summary="The Riverside factory closed overnight in March. Its workers, most of them "
                "women, are still waiting for three months' wages and their legal severance.",
        story="""On the night of 14 March the gates of the Riverside factory stayed shut. The
owner, **Crescent Textiles**, had moved the machines out over the weekend. The
1,260 workers who sewed sportswear for **Northwind Athletics** and clothes for
**Marlow & Finch** were owed three months' wages.

The workers' union asked the network to launch this appeal after talks with the
owner broke down. Together they calculated what is owed:

- unpaid wages for January to March;
- severance at the legal rate of one month's wage per year of service;
- the annual bonus due in April.

The brands that sourced from Riverside profited from these workers' labour. They can
close the gap now and recover it from their supplier later.
""",
        goal=10000, days_left=21, image="img/demo/severance.svg",
        image_alt="Illustration of a locked factory gate with a spool of thread.",
        asks={
            "northwind-athletics": "Pay the shortfall in wages and severance into the fund the union has set up, within 30 days.",
            "marlow-finch": "Contribute your share of the shortfall in proportion to your orders from Riverside.",
            "crescent-textiles": "Disclose the factory's accounts and pay what the law requires.",
            "ministry-of-labour": "Release the severance guarantee fund to the workers and prosecute the owner's flight.",
        },
        signers=64, consulted=("Riverside Garment Workers' Union (demo)", "BD"),
    ),
    dict(
        slug="reinstate-harbor-union-leaders",
        title="Reinstate the 14 union leaders dismissed at Harbor Knitwear",
        summary="Two weeks after they registered their union, all 14 of its elected leaders "
                "were dismissed. Velora Apparel is Harbor's largest buyer.",
        story="""Workers at **Harbor Knitwear** registered their union in May, after years of
forced overtime. Within two weeks, every one of the 14 leaders they had elected was
dismissed for "restructuring".

Dismissing union leaders breaks national law and the codes of conduct of the
brands that buy from Harbor. **Velora Apparel** buys more than half of the factory's
output and has the leverage to put this right.

The union asks for:

1. reinstatement of all 14 leaders in their former positions, with back pay;
2. recognition of the union and good-faith negotiations;
3. a written commitment that no worker will be punished for this campaign.
""",
        goal=5000, days_left=35, image="img/demo/union.svg",
        image_alt="Illustration of raised hands holding a banner.",
        asks={
            "velora-apparel": "Use your leverage: require Harbor to reinstate the 14 leaders with back pay within 14 days.",
            "harbor-knitwear": "Reinstate the 14 leaders, recognise the union and start negotiations.",
        },
        signers=38, consulted=("Harbor Knitwear Workers' Union (demo)", "KH"),
    ),
    dict(
        slug="eastgate-safe-factories",
        title="Make Eastgate's factories safe: sign the building and fire safety agreement",
        summary="Inspections found cracked pillars and locked fire exits in factories "
                "producing for two brands. Workers want a binding safety agreement.",
        story="""Independent engineers inspected 12 factories in the Eastgate industrial zone
and found cracked pillars, locked fire exits and overloaded wiring in eight of them.

Workers and their unions want a binding agreement: independent inspections,
published reports, repairs paid for by the brands, and the right to refuse unsafe
work. **Northwind Athletics** and **Velora Apparel** source from Eastgate and have not
signed.
""",
        goal=20000, days_left=None, image="img/demo/safety.svg",
        image_alt="Illustration of a factory building with a safety shield.",
        asks={
            "northwind-athletics": "Sign the binding safety agreement and publish your Eastgate suppliers.",
            "velora-apparel": "Sign the binding safety agreement and pay for the repairs in your suppliers' factories.",
        },
        signers=25, consulted=("Eastgate Garment Workers' Federation (demo)", "BD"),
    ),
]

FIRST_NAMES = ["Amina", "Lucas", "Priya", "Tomás", "Hannah", "Kwame", "Mei", "Sara", "Jonas",
               "Fatima", "Noah", "Ines", "Ravi", "Elena", "Omar", "Julia", "Kenji", "Lea",
               "Diego", "Chloé", "Nadia", "Pieter", "Aisha", "Marco"]
LAST_NAMES = ["Okafor", "Berg", "Sharma", "García", "Müller", "Mensah", "Chen", "Rossi",
              "Jansen", "Haddad", "Dubois", "Silva", "Nowak", "Kim", "Larsen", "Costa"]
COUNTRIES = ["DE", "NL", "GB", "FR", "BE", "ES", "IT", "SE", "DK", "AT", "IE", "BD", "KH", "US"]


DEMO_ACCOUNTS = [
    ("campaigner@threadline.localhost", "Demo Campaigner", "campaigner"),
    ("viewer@threadline.localhost", "Demo Viewer (partner union)", "viewer"),
    ("admin@threadline.localhost", "Demo Admin", "admin"),
]


def seed_accounts(credentials_file: Path) -> None:
    """Demo accounts with random passwords, written to a file only this machine's user reads.

    `make run` prints the file, so a newcomer can sign in; nothing is guessable.
    """
    from campaigns.accounts.models import Role
    from campaigns.accounts.operations import create_campaigner, find_campaigner

    lines = []
    for email, name, role in DEMO_ACCOUNTS:
        if find_campaigner(email):
            continue
        password = "-".join(secrets.token_urlsafe(4) for _ in range(4))
        create_campaigner(email=email, name=name, password=password, role=Role(role))
        lines.append(f"  {role:<11} {email:<34} {password}")
    if lines:
        credentials_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write("\n".join(lines) + "\n")


def seed_letters() -> None:
    """The demo email actions, live (the embedded default's mail goes to the local capture)."""
    from campaigns.actions.models import ActionTarget, EmailAction

    for slug, letters in DEMO_LETTERS.items():
        campaign = db.session.scalars(select(Campaign).filter_by(slug=slug)).first()
        if campaign is None or db.session.scalars(
                select(EmailAction).filter_by(campaign_id=campaign.id)).first():
            continue
        action = EmailAction(campaign_id=campaign.id, active=True, test_mode=False,
                             max_per_hour=20, test_address="campaigner@threadline.localhost")
        for campaign_target in campaign.targets:
            if campaign_target.target.slug in letters:
                subjects, body = letters[campaign_target.target.slug]
                action.letters.append(ActionTarget(
                    campaign_target_id=campaign_target.id, subjects=subjects, body=body,
                    contact_ids=[c.id for c in campaign_target.target.contacts]))
        db.session.add(action)
    db.session.flush()


def seed() -> str:
    """Create the demo content; returns a one-line summary."""
    # bandit B311: repeatable demo data
    rng = random.Random(2026)  # nosec B311
    now = utcnow()
    targets = {}
    for spec in TARGETS:
        spec = dict(spec)
        contacts = spec.pop("contacts")
        target = db.session.scalars(select(Target).filter_by(slug=spec["slug"])).first()
        if target is None:
            target = Target(**spec)
            target.contacts = [Contact(name=n, role=r, email=e, email_public=p,
                                       areas=(more[0] if more else None))
                               for n, r, e, p, *more in contacts]
            db.session.add(target)
        targets[spec["slug"]] = target
    db.session.flush()

    supporters = []
    for i in range(max(c["signers"] for c in CAMPAIGNS)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}.{i}@example.org".encode("ascii", "ignore").decode()
        country = rng.choice(COUNTRIES)
        supporter = db.session.scalars(
            select(Supporter).filter_by(canonical_email=canonical_email(email))
        ).first()
        if supporter is None:
            supporter = Supporter(email=email, canonical_email=canonical_email(email),
                                  first_name=first, last_name=last, country=country)
            db.session.add(supporter)
        supporters.append(supporter)
    db.session.flush()

    created = 0
    for position, spec in enumerate(CAMPAIGNS):
        if db.session.scalars(select(Campaign).filter_by(slug=spec["slug"])).first():
            continue
        launched = now - timedelta(days=10 + 5 * position)
        deadline = (now + timedelta(days=spec["days_left"])).date() if spec["days_left"] else None
        campaign = Campaign(
            slug=spec["slug"], title=spec["title"], summary=spec["summary"], story=spec["story"],
            goal=spec["goal"], deadline=deadline, status=CampaignStatus.LIVE, image=spec["image"],
            image_alt=spec["image_alt"], launched_at=launched,
        )
        campaign.targets = [CampaignTarget(target=targets[slug], ask=ask, position=i)
                            for i, (slug, ask) in enumerate(spec["asks"].items())]
        db.session.add(campaign)
        db.session.flush()
        # no campaign is live without a current worker consultation (organisations only)
        db.session.add(WorkerConsultation(
            campaign_id=campaign.id, requester_kind=RequesterKind.UNION,
            requester_organisation=spec["consulted"][0], country=spec["consulted"][1],
            consulted_on=(launched - timedelta(days=3)).date(), approved_demands=True,
            approved_naming_factory=True, approved_timing=True,
            retaliation_risks="Dismissal of further union members; the union follows up every case.",
            valid_until=(now + timedelta(days=120)).date(),
        ))
        for supporter in rng.sample(supporters, spec["signers"]):
            signed = launched + timedelta(minutes=rng.randint(5, 60 * 24 * 9))
            db.session.add(Signature(
                campaign_id=campaign.id, supporter_id=supporter.id,
                state=SignatureState.CONFIRMED, public=rng.random() < 0.6,
                created_at=signed, confirmed_at=signed + timedelta(minutes=rng.randint(1, 90)),
                source=rng.choice(["web", "web", "newsletter", "partner-union", "api"]),
            ))
        created += 1
    seed_letters()
    from flask import current_app

    seed_accounts(Path(current_app.config["INSTANCE_DIR"]) / "demo-logins.txt")
    seed_replies(now)
    db.session.commit()
    reconcile_signature_counts()
    return f"{len(targets)} targets, {created} campaigns, {len(supporters)} supporters"


def seed_replies(now) -> None:
    """Reply threads for the tracker: a published reply with a commitment, a decline, overdue ones."""
    from campaigns.replies import operations
    from campaigns.replies.models import Reply, ReplyChannel, ReplyThread, ThreadStatus

    operations.sync_threads(now.date())
    if db.session.scalars(select(Reply)).first() is not None:
        return
    threads = {(t.campaign.slug, t.target.slug): t for t in db.session.scalars(select(ReplyThread))}
    northwind = threads.get(("riverside-severance", "northwind-athletics"))
    if northwind is not None:
        reply = operations.log_reply(
            northwind, channel=ReplyChannel.EMAIL, received_on=(now - timedelta(days=4)).date(),
            sender="Jonas Weber <csr@northwind-athletics.example>", summary="",
            text="Dear campaigners,\n\nNorthwind Athletics will pay its share of the wages owed "
                 "into the fund the union set up, and will publish the amount.\n\nJonas Weber",
            files=[])
        operations.change_status(northwind, ThreadStatus.COMMITMENT)
        operations.add_commitment(northwind, "Pay its share of the wages owed into the union's fund "
                                  "and publish the amount", reply.received_at.date(), None, reply)
        operations.publish_reply(reply, "Northwind Athletics **commits** to pay its share of the "
                                 "wages owed into the workers' fund, and to publish the amount.",
                                 None, notify=False)
    marlow = threads.get(("riverside-severance", "marlow-finch"))
    if marlow is not None:
        reply = operations.log_reply(
            marlow, channel=ReplyChannel.STATEMENT, received_on=(now - timedelta(days=2)).date(),
            sender="Press office", summary="",
            text="Marlow & Finch no longer sources from the Riverside factory.", files=[])
        operations.change_status(marlow, ThreadStatus.DECLINED)
        operations.publish_reply(reply, "Marlow & Finch says it no longer sources from the factory "
                                 "and declines to pay anything.", None, notify=False)
    for thread in threads.values():  # what the deadline job would do: the past is overdue
        if thread.status == ThreadStatus.AWAITING and thread.deadline and thread.deadline < now.date():
            operations.change_status(thread, ThreadStatus.OVERDUE)
