"""Every admin route, walked as anonymous, viewer, campaigner of another organisation,
campaigner of the campaign's organisation, and admin."""
from __future__ import annotations

import re

import pytest

from campaigns.accounts.models import Role
from campaigns.core.db import db
from tests.helpers import csrf_token

#: the workspace, and the signed-in account pages (sign-in and reset pages are public)
ADMIN_RULES = re.compile(r"^/admin(/|$)|^/account/two-factor$")


def admin_routes(app):
    for rule in app.url_map.iter_rules():
        if ADMIN_RULES.match(rule.rule) and rule.endpoint != "static":
            yield rule


def test_every_admin_route_declares_who_may_use_it(app):
    """A route under /admin without @require_role would be open to anyone: none may exist."""
    undeclared = [rule.rule for rule in admin_routes(app) if rule.rule.startswith("/admin")
                  and not hasattr(app.view_functions[rule.endpoint], "required_role")]
    assert undeclared == []


@pytest.fixture
def matrix_campaign(make_campaign):
    from campaigns.accounts.models import Organisation

    organisation = Organisation(name="Union A")
    db.session.add(organisation)
    db.session.commit()
    campaign = make_campaign(slug="matrix", organisation_id=organisation.id)
    from campaigns.updates.models import CampaignUpdate

    db.session.add(CampaignUpdate(campaign_id=campaign.id, subject="News", body="**News**"))
    db.session.commit()
    return campaign


def url_values(rule, campaign) -> dict:
    """Arguments for a rule's placeholders; add a line here for each new kind of argument."""
    from campaigns.updates.models import CampaignUpdate

    update_id = db.session.scalar(db.select(CampaignUpdate.id).filter_by(campaign_id=campaign.id))
    known = {"slug": campaign.slug, "campaign_id": campaign.id, "update_id": update_id,
             "job_id": 1, "action": "pause",
             # no such supporter: 404 once the role check has passed
             "supporter_id": 999_999}
    known.update(target_slug=campaign.targets[0].target.slug,
                 contact_id=campaign.targets[0].target.contacts[0].id)
    # ids of rows that do not exist: the role check answers before the 404
    known.update(batch_id=0, signature_id=0, bundle_id=0, action_target_id=0, intake_id=0)
    # replies: ids of rows that do not exist either
    known.update(thread_id=0, reply_id=0, commitment_id=0, message_id=0, attachment_id=0)
    missing = set(rule.arguments) - set(known)
    assert not missing, f"{rule.rule}: teach url_values() about {missing}"
    return {name: known[name] for name in rule.arguments}


@pytest.mark.parametrize("who", ["anonymous", "viewer", "campaigner-other-org",
                                 "campaigner-same-org", "admin"])
def test_role_matrix(app, client, login, make_campaigner, matrix_campaign, who):
    if who != "anonymous":
        role, _, org = who.partition("-")
        organisation = {"other-org": "Union B", "same-org": "Union A"}.get(org)
        assert login(make_campaigner(role, organisation=organisation)).status_code == 302
    user_rank = {"anonymous": 0, "viewer": 1, "admin": 3}.get(who, 2)
    token = csrf_token(client.get("/login").get_data(as_text=True)) if who == "anonymous" else \
        csrf_token(client.get("/account/two-factor").get_data(as_text=True))
    checked = 0
    for rule in admin_routes(app):
        view = app.view_functions[rule.endpoint]
        required = getattr(view, "required_role", None)
        path = app.url_map.bind("localhost").build(rule.endpoint, url_values(rule, matrix_campaign))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(path)
            else:
                response = client.open(path, method=method, data={"csrf_token": token})
            status = response.status_code
            where = f"{who} {method} {rule.rule} -> {status}"
            if required is None:  # signed-in-only account pages
                assert (status == 302 and "/login" in response.headers["Location"]) \
                    if who == "anonymous" else status != 403, where
            elif who == "anonymous":
                assert status == 302 and "/login" in response.headers["Location"], where
            elif user_rank < required.rank:
                assert status == 403, where
            elif who == "campaigner-other-org" and getattr(view, "campaign_scoped", False) \
                    and required.rank >= Role.CAMPAIGNER.rank:
                assert status == 403, where
            else:
                assert status not in (302, 401, 403) or (
                    status == 302 and "/login" not in response.headers["Location"]), where
                assert status < 500, where
            checked += 1
    assert checked >= 2
