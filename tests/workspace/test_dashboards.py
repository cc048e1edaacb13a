"""Dashboards: per campaign and across campaigns; where signers came from."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from campaigns.core.db import db
from campaigns.paper.operations import record_paper_batch
from campaigns.signatures.models import Signature
from tests.conftest import fresh
from tests.helpers import csrf_token, process_intake


def stat(page: str, name: str) -> str:
    match = re.search(rf'<dd data-stat="{name}">([^<]*)</dd>', page)
    assert match, f"no {name} on the page"
    return match.group(1)


@pytest.mark.parametrize("role", ["viewer", "campaigner", "admin"])
def test_the_campaign_dashboard_gives_the_numbers(client, login, make_campaigner, campaign,
                                                  add_signatures, role):
    add_signatures(campaign, 3, country="DE", source="partner-union", utm_medium="email",
                   utm_campaign="may-day", referrer_host="union.example")
    add_signatures(campaign, 1, country="BD", confirmed=False, source="web")
    add_signatures(campaign, 2, country="BD", days_ago=3, source="web",
                   referrer_host="news.example")
    record_paper_batch(campaign, 40, "March", date.today() - timedelta(days=1), country="BD")
    db.session.commit()
    login(make_campaigner(role))

    response = client.get(f"/admin/campaigns/{campaign.slug}/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert (stat(page, "confirmed"), stat(page, "pending"), stat(page, "paper"),
            stat(page, "public"), stat(page, "rate")) == ("5", "1", "40", "45", "83%")
    # The chart is inline SVG with a title, and the same numbers as a table.
    assert '<svg class="chart"' in page and '<title id="chart-title">' in page
    svg = page[page.index('<svg class="chart"'):page.index("</svg>")]
    assert "style=" not in svg and "<script" not in svg
    assert svg.count('class="bar-online"') == 2 and svg.count('class="bar-paper"') == 1
    assert "The numbers as a table" in page
    # Countries, all of them (campaigners see every country, even under a risk flag).
    assert re.search(r"Bangladesh</th><td class=\"num\">2</td><td class=\"num\">40</td>", page)
    # Sources: utm tags and referring hosts, confirmed and waiting.
    assert re.search(r"partner-union · email · may-day</th><td class=\"num\">3</td><td class=\"num\">0</td>", page)
    assert re.search(r"web · – · –</th><td class=\"num\">2</td><td class=\"num\">1</td>", page)
    assert re.search(r"union.example</th><td class=\"num\">3</td>", page)
    assert re.search(r"news.example</th><td class=\"num\">2</td>", page)
    # Viewers read; only campaigners see the links that change things.
    assert ("Record paper signatures" in page) == (role != "viewer")
    assert ("export.csv" in page) == (role != "viewer")


def test_the_overview_gives_totals_and_trends(client, login, make_campaigner, make_campaign,
                                              add_signatures):
    first, second = make_campaign(title="Pay the Harbor workers"), make_campaign(title="Free the Union")
    add_signatures(first, 4)
    add_signatures(second, 2, days_ago=10)
    add_signatures(second, 3, confirmed=False)
    record_paper_batch(second, 7, "Stall", date.today())
    db.session.commit()
    login(make_campaigner("viewer"))
    page = client.get("/admin/dashboards").get_data(as_text=True)
    assert (stat(page, "confirmed"), stat(page, "pending"), stat(page, "paper")) == ("6", "3", "7")
    assert re.search(r"Pay the Harbor workers</a></th>\s*<td>Live</td>\s*<td class=\"num\">4</td>"
                     r"<td class=\"num\">0</td>\s*<td class=\"num\">0</td><td class=\"num\">4</td>", page)
    assert re.search(r"Free the Union</a></th>\s*<td>Live</td>\s*<td class=\"num\">2</td>"
                     r"<td class=\"num\">3</td>\s*<td class=\"num\">7</td><td class=\"num\">0</td>", page)
    assert '<svg class="chart"' in page
    assert "Dashboards" in page  # in the workspace menu


def test_signing_keeps_utm_tags_and_only_the_referring_host(client, campaign):
    page = client.get(f"/c/{campaign.slug}?utm_source=partner-union&utm_medium=email&utm_campaign=may",
                      headers={"Referer": "https://news.example/2026/story?reader=42"})
    html = page.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)" class="sign-form"', html).group(1)
    action = action.replace("&amp;", "&")
    assert "ref=news.example" in action and "utm_medium=email" in action and "reader" not in action
    response = client.post(action, data={"csrf_token": csrf_token(html), "first_name": "Rosa",
                                         "last_name": "Luna", "email": "rosa@example.org",
                                         "country": "BD"},
                           headers={"Referer": f"http://threadline.test/c/{campaign.slug}"})
    assert response.status_code == 303
    process_intake()
    signature = db.session.scalars(select(Signature)).one()
    assert (signature.source, signature.utm_medium, signature.utm_campaign, signature.referrer_host) \
        == ("partner-union", "email", "may", "news.example")



def test_the_referring_host_is_kept_without_any_utm_tags(client, campaign):
    html = client.get(f"/c/{campaign.slug}",
                      headers={"Referer": "https://news.example/story"}).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)" class="sign-form"', html).group(1)
    assert action.endswith("?ref=news.example")
    html = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)" class="sign-form"', html).group(1)
    assert "?" not in action

def test_our_own_pages_are_not_a_referrer(client, campaign, sign):
    sign(campaign)
    fresh()
    assert db.session.scalars(select(Signature.referrer_host)).one() is None


def test_the_api_keeps_utm_tags_and_the_referring_host(client, campaign):
    response = client.post(
        f"/api/v1/campaigns/{campaign.slug}/signatures?utm_source=partner&utm_medium=embed&utm_campaign=x",
        json={"first_name": "Ines", "last_name": "Costa", "email": "ines@example.org", "country": "PT"},
        headers={"Referer": "https://Partner.Example/petition?id=1"})
    assert response.status_code == 202
    process_intake()
    signature = db.session.scalars(select(Signature)).one()
    assert (signature.source, signature.utm_medium, signature.utm_campaign, signature.referrer_host) \
        == ("partner", "embed", "x", "partner.example")


def test_dashboards_need_a_sign_in(client, campaign):
    for url in (f"/admin/campaigns/{campaign.slug}/dashboard", "/admin/dashboards"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_campaigners_see_every_country_even_under_a_risk_flag(client, login, make_campaigner,
                                                              make_campaign, add_signatures):
    campaign = make_campaign(risk_flag=True)
    add_signatures(campaign, 2, country="KH")
    login(make_campaigner("viewer"))
    page = client.get(f"/admin/campaigns/{campaign.slug}/dashboard").get_data(as_text=True)
    assert re.search(r"Cambodia</th><td class=\"num\">2</td>", page)
    assert "Cambodia" not in client.get(f"/c/{campaign.slug}/countries").get_data(as_text=True)
