"""The public breakdown of signatures by country: a table and a map drawn on the server."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import event, update

from campaigns.core.db import db
from campaigns.paper.operations import record_paper_batch
from campaigns.petitions.models import Campaign, CampaignStatus
from campaigns.signatures.tasks import reconcile_signature_counts


def rows(page: str) -> dict[str, str]:
    """Country -> total, from the table."""
    found = re.findall(r'<tr><th scope="row">([^<]+)</th>(?:<td[^>]*>[^<]*</td>){2}'
                       r'<td class="num">([^<]+)</td></tr>', page)
    return dict(found)


def test_the_country_table_counts_confirmed_and_paper_signatures(client, campaign, add_signatures):
    add_signatures(campaign, 3, country="DE", first_name="Greta", public=True)
    add_signatures(campaign, 2, country="BD")
    add_signatures(campaign, 4, country="FR", confirmed=False)  # pending: not counted
    record_paper_batch(campaign, 10, "Union meeting", date.today(), country="BD")
    record_paper_batch(campaign, 5, "Street stall", date.today())
    db.session.commit()

    response = client.get(f"/c/{campaign.slug}/countries")
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    assert rows(page) == {"Bangladesh": "12", "Germany": "3", "Paper, country not recorded": "5",
                          "All countries": "20"}
    assert "France" not in page
    assert f'src="/c/{campaign.slug}/countries.svg"' in page
    assert "World map shaded by the number of signatures" in page  # the image's text


def test_the_map_is_an_svg_without_scripts_or_styles(client, campaign, add_signatures):
    add_signatures(campaign, 5, country="DE")
    add_signatures(campaign, 1, country="BR")
    response = client.get(f"/c/{campaign.slug}/countries.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert "<script" not in svg and "style" not in svg and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert re.search(r'<g fill="#[0-9a-f]{6}"><title>Germany: 5</title>', svg)
    assert re.search(r'<g fill="#[0-9a-f]{6}"><title>Brazil: 1</title>', svg)
    assert "<g><title>India: 0</title>" in svg  # no signatures: the default grey


def test_under_a_risk_flag_small_countries_are_merged(client, make_campaign, add_signatures):
    campaign = make_campaign(risk_flag=True)
    add_signatures(campaign, 6, country="DE", first_name="Hidden", public=True)
    add_signatures(campaign, 2, country="KH")  # the factory's country: too few to name
    page = client.get(f"/c/{campaign.slug}/countries").get_data(as_text=True)
    assert "Germany" in page and "Cambodia" not in page
    assert "Other countries (fewer than 5 signatures each)" in page
    assert "Hidden" not in page
    assert "Cambodia: 2" not in client.get(f"/c/{campaign.slug}/countries.svg").get_data(as_text=True)


def test_a_campaign_the_public_cannot_see_has_no_country_page(client, make_campaign):
    draft = make_campaign(status=CampaignStatus.DRAFT)
    assert client.get(f"/c/{draft.slug}/countries").status_code == 404
    assert client.get(f"/c/{draft.slug}/countries.svg").status_code == 404


def test_the_breakdown_is_computed_once_per_count(app, client, campaign, add_signatures):
    """Readers share one GROUP BY until the background job changes the count."""
    add_signatures(campaign, 2, country="DE")
    statements = []

    def log(conn, cursor, statement, *args):
        if "GROUP BY supporter.country" in statement:
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", log)
    try:
        for _ in range(3):
            client.get(f"/c/{campaign.slug}/countries")
            client.get(f"/c/{campaign.slug}/countries.svg")
        assert len(statements) == 1
        add_signatures(campaign, 1, country="DE")  # the count changes (reconciled)
        assert rows(client.get(f"/c/{campaign.slug}/countries").get_data(as_text=True))["Germany"] == "3"
        assert len(statements) == 2
    finally:
        event.remove(engine, "before_cursor_execute", log)


def test_the_grouping_uses_the_campaign_index(campaign):
    """The country GROUP BY reads one campaign's confirmed rows through an index."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    from sqlalchemy import func, select

    from campaigns.signatures.models import COUNTED_STATES, Signature
    from campaigns.supporters.models import Supporter

    query = (select(Supporter.country, func.count()).select_from(Signature).join(Signature.supporter)
             .where(Signature.campaign_id == campaign.id, Signature.state.in_(COUNTED_STATES))
             .group_by(Supporter.country))
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = " ".join(str(row) for row in db.session.execute(
        __import__("sqlalchemy").text(f"EXPLAIN QUERY PLAN {compiled}")).all())
    assert "USING INDEX ix_signature_campaign_state_confirmed" in plan or \
        "USING COVERING INDEX ix_signature_campaign_state_confirmed" in plan, plan
