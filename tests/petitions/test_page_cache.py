"""Anonymous readers of a campaign page share one drawing of it for a few seconds;
each still gets a CSRF token and a form timestamp of their own."""
from __future__ import annotations

import pytest

from campaigns.core.db import db
from campaigns.petitions import page_cache
from tests.helpers import csrf_token


@pytest.fixture
def cache_on(app):
    app.config["CAMPAIGN_PAGE_CACHE_SECONDS"] = 60
    page_cache._pages.clear()
    page_cache._redrawing.clear()
    yield
    app.config["CAMPAIGN_PAGE_CACHE_SECONDS"] = 0
    page_cache._pages.clear()
    page_cache._redrawing.clear()


def started_value(html: str) -> str:
    return html.split('name="started" type="hidden" value="')[1].split('"')[0]


@pytest.mark.usefixtures("cache_on")
def test_readers_share_the_page_but_not_their_tokens(app, client, campaign):
    first = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    campaign.title = "A new title, not shown until the page is drawn again"
    db.session.commit()
    other = app.test_client()
    second = other.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "A new title" not in second  # the shared drawing
    assert page_cache.CSRF_PLACEHOLDER not in second and page_cache.STARTED_PLACEHOLDER not in second
    assert csrf_token(first) != csrf_token(second)

    # Each reader's token and timestamp work: signing goes through.
    response = other.post(f"/c/{campaign.slug}/sign", data={
        "csrf_token": csrf_token(second), "started": started_value(second), "first_name": "Kim",
        "last_name": "Lee", "email": "kim@example.org", "country": "KR"})
    assert response.status_code == 303


@pytest.mark.usefixtures("cache_on")
def test_campaigners_and_readers_with_a_message_get_a_fresh_page(client, campaign, login,
                                                                  make_campaigner):
    client.get(f"/c/{campaign.slug}")
    campaign.title = "Changed title"
    db.session.commit()
    login(make_campaigner())
    assert "Changed title" in client.get(f"/c/{campaign.slug}").get_data(as_text=True)


@pytest.mark.usefixtures("cache_on")
def test_each_referrer_and_utm_source_has_its_own_page(client, campaign):
    page = client.get(f"/c/{campaign.slug}?utm_source=union-newsletter").get_data(as_text=True)
    assert "utm_source=union-newsletter" in page
    plain = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "utm_source" not in plain


@pytest.mark.usefixtures("cache_on")
def test_no_reader_waits_for_a_redraw(app, client, campaign, monkeypatch):
    """Past its age the page is still served as it was, and drawn again after that response."""
    client.get(f"/c/{campaign.slug}")
    campaign.title = "A title drawn after the stale page went out"
    db.session.commit()
    later = page_cache.time.monotonic() + 61
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: later)
    response = app.test_client().get(f"/c/{campaign.slug}")
    assert "A title drawn after" not in response.get_data(as_text=True)
    response.close()  # the server closes the response once it is sent: the redraw runs then
    assert "A title drawn after" in app.test_client().get(f"/c/{campaign.slug}").get_data(as_text=True)


@pytest.mark.usefixtures("cache_on")
def test_a_page_much_older_than_its_age_is_drawn_before_answering(app, client, campaign,
                                                                   monkeypatch):
    client.get(f"/c/{campaign.slug}")
    campaign.title = "Drawn again at once"
    db.session.commit()
    later = page_cache.time.monotonic() + 60 * page_cache.STALE_LIMIT + 1
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: later)
    assert "Drawn again at once" in app.test_client().get(f"/c/{campaign.slug}").get_data(as_text=True)


@pytest.mark.usefixtures("cache_on")
def test_a_closed_campaign_is_not_served_from_a_stale_page(app, client, campaign, monkeypatch):
    from campaigns.petitions.models import CampaignStatus

    client.get(f"/c/{campaign.slug}")
    campaign.status = CampaignStatus.DRAFT
    db.session.commit()
    later = page_cache.time.monotonic() + 61
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: later)
    app.test_client().get(f"/c/{campaign.slug}").close()  # the last stale view; its redraw fails
    assert app.test_client().get(f"/c/{campaign.slug}").status_code == 404


@pytest.mark.usefixtures("cache_on")
def test_a_first_time_readers_token_signs_with_their_session_only(app, campaign):
    """A reader without cookies (as on a first visit) gets a session cookie with the shared
    page; the page's token signs with that cookie, and with nobody else's."""
    reader, stranger = app.test_client(), app.test_client()
    app.test_client().get(f"/c/{campaign.slug}")  # the shared drawing exists
    page = reader.get(f"/c/{campaign.slug}")
    assert page.headers["Set-Cookie"].startswith("session=")
    assert page.headers["Cache-Control"] == "private, no-cache"
    html = page.get_data(as_text=True)
    stranger.get(f"/c/{campaign.slug}")
    form = {"csrf_token": csrf_token(html), "started": started_value(html),
            "first_name": "Kim", "last_name": "Lee", "email": "kim@example.org", "country": "KR"}
    assert stranger.post(f"/c/{campaign.slug}/sign", data=form).status_code == 400
    assert app.test_client().post(f"/c/{campaign.slug}/sign", data=form).status_code == 400
    assert reader.post(f"/c/{campaign.slug}/sign", data=form).status_code == 303


@pytest.mark.usefixtures("cache_on")
def test_a_returning_reader_keeps_their_token(client, campaign):
    first = client.get(f"/c/{campaign.slug}")
    again = client.get(f"/c/{campaign.slug}")
    assert csrf_token(first.get_data(as_text=True)) == csrf_token(again.get_data(as_text=True))
