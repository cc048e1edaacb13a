"""Delivery bundles: built by the worker, progress shown in the workspace, downloaded."""
from __future__ import annotations

import base64
import hashlib
import re
from datetime import date

import pytest
from sqlalchemy import select, update

from campaigns.audit.models import AuditEvent
from campaigns.bundles import tasks as bundle_tasks
from campaigns.bundles.models import BundleState, DeliveryBundle, DeliveryBundlePart
from campaigns.core.db import db
from campaigns.paper.operations import record_paper_batch
from campaigns.petitions.models import Campaign
from tests.conftest import fresh
from tests.helpers import csrf_token, wait_until


def ask_for_bundle(client, campaign, link_id):
    page = client.get(f"/admin/campaigns/{campaign.slug}/bundles")
    assert page.status_code == 200
    return client.post(f"/admin/campaigns/{campaign.slug}/bundles",
                       data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                             "campaign_target_id": str(link_id)})


def wait_for_bundle(client, url):
    seen = []

    def finished():
        data = client.get(url).get_json()
        seen.append(data["percent"])
        return data if data["state"] in ("done", "failed") else None

    return wait_until(finished, timeout=30, interval=0.02, message="the bundle"), seen


@pytest.mark.usefixtures("celery_worker")
def test_the_worker_builds_a_bundle_with_progress(client, login, make_campaigner, make_campaign,
                                                  make_target, add_signatures, monkeypatch):
    monkeypatch.setattr(bundle_tasks, "CHUNK", 100)  # several parts, several progress steps
    brand, ministry = make_target(slug="velora", name="Velora Apparel"), \
        make_target(slug="ministry", name="Ministry of Labour")
    campaign = make_campaign(targets=[brand, ministry], story="The <b>union</b> was registered in May.")
    add_signatures(campaign, 340, country="KH", first_name="Sokha", last_name="Chan")
    add_signatures(campaign, 1, country="DE", first_name="Greta", last_name="<script>Berg")
    add_signatures(campaign, 1, country="FR", first_name="Pending", confirmed=False)
    record_paper_batch(campaign, 25, "Union meeting", date.today(), country="KH")
    db.session.commit()
    ministry_link = campaign.targets[1]
    login(make_campaigner("campaigner"))

    response = ask_for_bundle(client, campaign, ministry_link.id)
    assert response.status_code == 303
    show_url = response.headers["Location"]
    page = client.get(show_url).get_data(as_text=True)
    assert "<progress" in page and "js/bundle-progress.js" in page
    assert "data-progress-url" in page
    json_url = re.search(r'data-progress-url="([^"]+)"', page).group(1)

    data, seen = wait_for_bundle(client, json_url)
    assert data["state"] == "done" and data["percent"] == 100
    assert data["done"] == data["total"] == 341
    assert seen == sorted(seen)  # progress only goes up
    fresh()
    bundle = db.session.scalars(select(DeliveryBundle)).one()
    assert (bundle.done, bundle.total, bundle.state) == (341, 341, BundleState.DONE)
    assert db.session.scalar(select(db.func.count()).select_from(DeliveryBundlePart)) == 6  # head, 4, tail

    page = client.get(show_url).get_data(as_text=True)
    assert "Reload to see the progress" not in page
    assert 'value="100"' in page and data["document_url"] in page

    document = client.get(data["document_url"])
    assert document.status_code == 200 and document.mimetype == "text/html"
    html = document.get_data(as_text=True)
    assert "To: Ministry of Labour" in html and "Reinstate them, Ministry of Labour." in html
    assert "Velora Apparel" not in html  # the other target's ask is not in this bundle
    assert campaign.summary in html and "registered in May" in html
    assert re.search(r"<td>Cambodia</td><td class=\"num\">365</td>", html)  # 340 online + 25 paper
    assert "366 people signed this petition." in html
    assert html.count("<td>Sokha Chan</td><td>Cambodia</td>") == 340
    assert "Greta &lt;script&gt;Berg" in html and "<script>" not in html
    assert "Pending" not in html
    assert "@media print" in html
    # The document's own <style> is the only one allowed.
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in document.headers["Content-Security-Policy"]
    assert "script-src" not in document.headers["Content-Security-Policy"]
    download = client.get(data["document_url"] + "?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    fresh()
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["bundle.downloaded", "bundle.downloaded"]
    assert "bundle.requested" in actions

    # Once delivered, the bundle and the names in it are deleted.
    page = client.get(show_url).get_data(as_text=True)
    deleted = client.post(f"{show_url}/delete", data={"csrf_token": csrf_token(page)})
    assert deleted.status_code == 303
    assert client.get(show_url).status_code == 404
    assert client.get(data["document_url"]).status_code == 404
    fresh()
    assert db.session.scalars(select(DeliveryBundlePart)).all() == []
    assert db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() \
        == "bundle.deleted"


@pytest.mark.usefixtures("celery_worker")
def test_under_a_risk_flag_the_bundle_has_counts_only(client, login, make_campaigner, make_campaign,
                                                      add_signatures):
    campaign = make_campaign()
    add_signatures(campaign, 12, country="DE", first_name="Greta", last_name="Berg")
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(risk_flag=True))
    db.session.commit()
    login(make_campaigner("campaigner"))
    show_url = ask_for_bundle(client, campaign, campaign.targets[0].id).headers["Location"]
    json_url = show_url + ".json"
    data, _ = wait_for_bundle(client, json_url)
    assert data["state"] == "done" and data["percent"] == 100 and data["total"] == 0
    html = client.get(data["document_url"]).get_data(as_text=True)
    assert "Greta" not in html and "Berg" not in html
    assert "The names of the signers are withheld" in html
    assert re.search(r"<td>Germany</td><td class=\"num\">12</td>", html)
    assert "names were left out" in client.get(show_url).get_data(as_text=True)


def test_while_it_waits_the_page_offers_a_reload_link(client, login, make_campaigner, campaign,
                                                      monkeypatch):
    from campaigns.bundles import operations

    monkeypatch.setattr(operations, "enqueue", lambda *args: False)  # the broker is away
    login(make_campaigner("campaigner"))
    show_url = ask_for_bundle(client, campaign, campaign.targets[0].id).headers["Location"]
    page = client.get(show_url).get_data(as_text=True)
    assert "Reload to see the progress" in page and 'value="0"' in page
    assert '<meta http-equiv="refresh"' not in page
    assert client.get(show_url + ".json").get_json() == {
        "state": "queued", "done": 0, "total": 0, "percent": 0, "document_url": None}
    assert client.get(show_url + "/document").status_code == 404  # not ready
    refused = client.post(show_url + "/delete", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(show_url)

    # The sweep queues it again once the broker is back (here: runs it in this process).
    monkeypatch.setattr(bundle_tasks, "SWEEP_GRACE", bundle_tasks.timedelta(0))
    monkeypatch.setattr(bundle_tasks, "enqueue",
                        lambda task, bundle_id: task.run(bundle_id) and True)
    assert bundle_tasks.sweep_bundles() == 1
    assert client.get(show_url + ".json").get_json()["percent"] == 100


def test_a_target_of_another_campaign_is_refused(client, login, make_campaigner, make_campaign):
    here, there = make_campaign(), make_campaign()
    login(make_campaigner("campaigner"))
    response = ask_for_bundle(client, here, there.targets[0].id)
    assert response.status_code == 422
    fresh()
    assert db.session.scalars(select(DeliveryBundle)).all() == []


@pytest.mark.parametrize("role, organisation", [("viewer", None), ("campaigner", "Union B")])
def test_others_cannot_see_bundles(client, login, make_campaigner, org_campaign, role, organisation):
    bundle = DeliveryBundle(campaign_id=org_campaign.id, campaign_target_id=org_campaign.targets[0].id,
                            state=BundleState.DONE)
    db.session.add(bundle)
    db.session.commit()
    login(make_campaigner(role, organisation=organisation))
    base = f"/admin/campaigns/{org_campaign.slug}/bundles"
    for url in (base, f"{base}/{bundle.id}", f"{base}/{bundle.id}.json", f"{base}/{bundle.id}/document"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client.get("/account/two-factor").get_data(as_text=True))
    assert client.post(f"{base}/{bundle.id}/delete", data={"csrf_token": token}).status_code == 403
    fresh()
    assert db.session.get(DeliveryBundle, bundle.id) is not None


def test_a_rerun_after_a_dead_worker_starts_over_and_a_finished_bundle_is_left_alone(
        campaign, add_signatures, monkeypatch):
    monkeypatch.setattr(bundle_tasks, "CHUNK", 2)
    add_signatures(campaign, 5, first_name="Ana", last_name="Lima")
    bundle = DeliveryBundle(campaign_id=campaign.id, campaign_target_id=campaign.targets[0].id,
                            state=BundleState.RUNNING, done=2, total=5)  # a worker died here
    db.session.add(bundle)
    db.session.flush()
    db.session.add(DeliveryBundlePart(bundle_id=bundle.id, position=0, html="stale"))
    db.session.commit()
    assert bundle_tasks.build_delivery_bundle(bundle.id) == "done"
    assert bundle_tasks.build_delivery_bundle(bundle.id) == "skipped"
    fresh()
    parts = db.session.scalars(select(DeliveryBundlePart.html).where(
        DeliveryBundlePart.bundle_id == bundle.id).order_by(DeliveryBundlePart.position)).all()
    assert "stale" not in parts and len(parts) == 1 + 3 + 1
    assert "".join(parts).count("<td>Ana Lima</td>") == 5
    assert (db.session.get(DeliveryBundle, bundle.id).done, db.session.get(DeliveryBundle, bundle.id).total) == (5, 5)
