"""Exporting a campaign's signatures as CSV: streamed, safe in a spreadsheet, audited."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.exports import operations as exports
from campaigns.paper.operations import record_paper_batch
from tests.conftest import fresh


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_lists_signatures_and_paper_batches(client, login, make_campaigner, org_campaign,
                                                       add_signatures):
    add_signatures(org_campaign, 2, country="DE", first_name="Greta", last_name="Berg",
                   source="partner", utm_medium="email", referrer_host="union.example",
                   comment="Solidarity")
    add_signatures(org_campaign, 1, country="BD", confirmed=False, first_name="Pending")
    record_paper_batch(org_campaign, 120, "May Day march", date(2026, 5, 1), country="BD")
    db.session.commit()
    campaigner = make_campaigner("campaigner", organisation="Union A")
    login(campaigner)

    response = client.get(f"/admin/campaigns/{org_campaign.slug}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="{org_campaign.slug}-signatures.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response.get_data(as_text=True))
    assert [r["kind"] for r in rows] == ["online", "online", "online", "paper"]
    greta = rows[0]
    assert (greta["first_name"], greta["last_name"], greta["country"], greta["state"],
            greta["source"], greta["utm_medium"], greta["referrer_host"], greta["comment"]) == \
        ("Greta", "Berg", "DE", "confirmed", "partner", "email", "union.example", "Solidarity")
    assert rows[2]["state"] == "pending" and rows[2]["confirmed_at"] == ""
    paper = rows[3]
    assert (paper["count"], paper["source"], paper["signed_at"], paper["country"]) == \
        ("120", "May Day march", "2026-05-01", "BD")
    assert "email" not in rows[0] and "@example.org" not in response.get_data(as_text=True)

    fresh()
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export.signatures")).all()
    assert (event.actor_id, event.subject_type, event.subject_id) == \
        (campaigner.id, "Campaign", org_campaign.id)


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil.example\")", "+1+2", "-5", "@SUM(A1)",
                                   "\tTabbed", "\rReturn"])
def test_formula_cells_are_neutralised(client, login, make_campaigner, campaign, add_signatures, value):
    add_signatures(campaign, 1, first_name=value, comment=value, source=value)
    login(make_campaigner("campaigner"))
    [row] = read_csv(client.get(f"/admin/campaigns/{campaign.slug}/export.csv").get_data(as_text=True))
    for column in ("first_name", "comment", "source"):
        assert row[column] == "'" + value


def test_times_are_iso_8601_in_utc(client, login, make_campaigner, campaign, add_signatures):
    """Written by the database (as datetime.isoformat() writes them): "+00:00", and no
    ".000000" when the microseconds are zero."""
    signed = datetime(2026, 3, 14, 22, 5, 9, 123456, tzinfo=timezone.utc)
    confirmed = datetime(2026, 3, 15, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    add_signatures(campaign, 1, created_at=signed, confirmed_at=confirmed)
    add_signatures(campaign, 1, confirmed=False, created_at=signed.replace(microsecond=0))
    login(make_campaigner("campaigner"))
    rows = read_csv(client.get(f"/admin/campaigns/{campaign.slug}/export.csv").get_data(as_text=True))
    assert [(row["signed_at"], row["confirmed_at"], row["public"]) for row in rows] == [
        ("2026-03-14T22:05:09.123456+00:00", "2026-03-14T23:00:00+00:00", "no"),
        ("2026-03-14T22:05:09+00:00", "", "no"),
    ]


def test_the_export_is_streamed_in_batches(client, login, make_campaigner, campaign, add_signatures,
                                           monkeypatch):
    monkeypatch.setattr(exports, "BATCH_ROWS", 7)
    add_signatures(campaign, 50)
    login(make_campaigner("campaigner"))
    response = client.get(f"/admin/campaigns/{campaign.slug}/export.csv", buffered=False)
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) == 1 + 8  # the header, then 7 rows at a time (the last piece: 1 row)
    assert all(chunk.count(b"\n") == 7 for chunk in chunks[1:-1])
    response.close()


@pytest.mark.parametrize("role, organisation", [("viewer", None), ("campaigner", "Union B")])
def test_only_the_campaigns_own_campaigners_export(client, login, make_campaigner, org_campaign,
                                                   add_signatures, role, organisation):
    add_signatures(org_campaign, 1, first_name="Private")
    login(make_campaigner(role, organisation=organisation))
    response = client.get(f"/admin/campaigns/{org_campaign.slug}/export.csv")
    assert response.status_code == 403 and "Private" not in response.get_data(as_text=True)
    fresh()
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export.signatures")).all() == []


def test_admins_export_any_campaign(client, login, make_campaigner, org_campaign, add_signatures):
    add_signatures(org_campaign, 2)
    login(make_campaigner("admin"))
    assert len(read_csv(client.get(f"/admin/campaigns/{org_campaign.slug}/export.csv")
                        .get_data(as_text=True))) == 2
