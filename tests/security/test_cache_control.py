"""What caches may keep: public pages say so (with stale-while-revalidate), pages with
personal data say no-store, and the campaign page (each reader's own form token) is private."""
from __future__ import annotations

from sqlalchemy import select

from campaigns.core.db import db
from campaigns.signatures.models import Signature
from campaigns.signatures.operations import confirmation_token


def directives(response) -> dict[str, str | None]:
    return {part.strip().partition("=")[0]: part.strip().partition("=")[2] or None
            for part in response.headers.get("Cache-Control", "").split(",") if part.strip()}


def test_public_country_pages_are_cacheable_and_may_be_served_stale(client, campaign):
    for url in (f"/c/{campaign.slug}/countries", f"/c/{campaign.slug}/countries.svg"):
        cache = directives(client.get(url))
        assert "public" in cache and int(cache["max-age"]) > 0
        assert int(cache["stale-while-revalidate"]) >= int(cache["max-age"])


def test_public_pages_without_forms_are_cacheable_for_anonymous_readers_only(
        client, campaign, login, make_campaigner):
    target = campaign.targets[0].target.slug
    urls = ("/", f"/t/{target}", "/companies", "/companies.csv", "/commitments")
    for url in urls:
        cache = directives(client.get(url))
        assert "public" in cache and int(cache["max-age"]) > 0, url
        assert int(cache["stale-while-revalidate"]) >= int(cache["max-age"]), url
    login(make_campaigner())  # a campaigner's copy shows their name in the menu
    for url in urls + (f"/c/{campaign.slug}/countries",):
        assert directives(client.get(url)) == {"no-store": None}, url


def test_a_missing_public_page_is_not_cached_as_public(client):
    assert "public" not in directives(client.get("/t/no-such-company"))


def test_the_campaign_page_is_kept_out_of_shared_caches(client, campaign):
    cache = directives(client.get(f"/c/{campaign.slug}"))
    assert "private" in cache and "public" not in cache


def test_a_signed_in_campaigners_pages_are_never_stored(client, campaign, login, make_campaigner):
    login(make_campaigner())
    for url in (f"/c/{campaign.slug}", f"/admin/campaigns/{campaign.slug}/dashboard", "/admin/dashboards"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response) == {"no-store": None}, url


def test_a_confirmation_link_page_is_never_stored(client, campaign, sign):
    sign(campaign, email="private@example.org")
    signature = db.session.scalars(select(Signature)).one()
    response = client.get(f"/sign/confirm/{confirmation_token(signature)}")
    assert response.status_code == 200
    assert directives(response) == {"no-store": None}
