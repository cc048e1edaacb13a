"""Public pages: the home page and the campaign page."""
from __future__ import annotations

from datetime import date

from campaigns.core.db import db, utcnow
from campaigns.petitions.models import CampaignStatus
from campaigns.signatures.models import Signature, SignatureState
from campaigns.supporters.models import Supporter


def add_signer(campaign, first_name, country="KH", public=True, confirmed=True, n=[0]):
    n[0] += 1
    supporter = Supporter(email=f"s{n[0]}@example.org", canonical_email=f"s{n[0]}@example.org",
                          first_name=first_name, last_name="Secret-Lastname", country=country)
    db.session.add(supporter)
    db.session.flush()
    db.session.add(Signature(
        campaign_id=campaign.id, supporter_id=supporter.id, public=public,
        state=SignatureState.CONFIRMED if confirmed else SignatureState.PENDING,
        confirmed_at=utcnow() if confirmed else None))
    db.session.commit()


def test_home_lists_live_campaigns_with_progress(client, make_campaign):
    make_campaign(title="Reinstate the Harbor union leaders", goal=200, signature_count=50)
    make_campaign(title="A draft nobody may see", status=CampaignStatus.DRAFT)
    make_campaign(title="An old closed one", status=CampaignStatus.CLOSED)
    page = client.get("/").get_data(as_text=True)
    assert "Reinstate the Harbor union leaders" in page
    assert '<progress max="200" value="50"' in page
    assert "A draft nobody may see" not in page and "An old closed one" not in page


def test_campaign_page_shows_story_targets_progress_and_form(client, make_campaign, make_target):
    brand = make_target(slug="velora", name="Velora Apparel")
    ministry = make_target(slug="ministry", name="Ministry of Labour")
    campaign = make_campaign(slug="harbor", targets=[brand, ministry], goal=1000,
                             signature_count=250, deadline=date(2099, 1, 31),
                             story="## What happened\n\nThe **union** was registered in May.")
    response = client.get("/c/harbor")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h2>What happened</h2>" in page and "<strong>union</strong>" in page
    assert "Velora Apparel" in page and "Ministry of Labour" in page
    assert "Reinstate them, Velora Apparel." in page  # the ask to each target
    assert '<progress max="1000" value="250"' in page
    assert "January 31, 2099" in page
    for name in ("first_name", "last_name", "email", "country", "postcode", "comment",
                 "public", "consent_updates", "csrf_token"):
        assert f'name="{name}"' in page
    assert 'name="consent_updates" type="checkbox" value="y">' in page  # unticked
    assert "ceo@velora.example" not in page  # private contact addresses never shown


def test_open_graph_tags_use_the_configured_base_url(client, make_campaign):
    campaign = make_campaign(slug="og", image="img/demo/union.svg", image_alt="Raised hands")
    page = client.get("/c/og", headers={"Host": "evil.example"}).get_data(as_text=True)
    assert f'<meta property="og:title" content="{campaign.title}">' in page
    assert '<meta property="og:url" content="http://threadline.test/c/og">' in page
    assert '<meta property="og:image" content="http://threadline.test/static/img/demo/union.svg">' in page
    assert "evil.example" not in page


def test_draft_and_unknown_campaigns_are_not_found(client, make_campaign):
    make_campaign(slug="draft", status=CampaignStatus.DRAFT)
    make_campaign(slug="review", status=CampaignStatus.REVIEW)
    for slug in ("draft", "review", "nothing"):
        response = client.get(f"/c/{slug}")
        assert response.status_code == 404
        assert "We could not find that page." in response.get_data(as_text=True)


def test_recent_signers_are_public_confirmed_first_names_only(client, campaign):
    add_signer(campaign, "Chanthou", country="KH")
    add_signer(campaign, "Hiddenname", public=False)
    add_signer(campaign, "Pendingname", confirmed=False)
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "Chanthou, Cambodia" in page
    assert "Hiddenname" not in page and "Pendingname" not in page
    assert "Secret-Lastname" not in page


def test_markdown_and_user_input_are_rendered_inert(client, make_campaign, make_target):
    target = make_target(slug="xss", name='<script>alert("t")</script>Brand')
    campaign = make_campaign(
        slug="xss", targets=[target], title='<img src=x onerror=alert(1)>Title',
        story='<script>alert(1)</script>\n\n[click](javascript:alert(1)) <a href="#" onclick="x()">a</a>\n\n<iframe src="https://evil.example"></iframe>',
    )
    add_signer(campaign, '<b onmouseover="x()">Bold</b>')
    page = client.get("/c/xss").get_data(as_text=True)
    assert "<script>alert" not in page and "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "javascript:" not in page and "onclick" not in page and "<iframe" not in page
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;Brand" in page
    assert "onmouseover" not in page.replace("&lt;b onmouseover=&#34;x()&#34;&gt;Bold&lt;/b&gt;", "")


def test_thank_you_page_shares_without_loading_third_parties(client, campaign):
    response = client.get(f"/c/{campaign.slug}/thanks")
    page = response.get_data(as_text=True)
    assert "https://wa.me/?text=" in page and "mailto:?subject=" in page
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    import re

    loaded = re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="([^"]+)"', page)
    assert loaded and all(url.startswith("/") for url in loaded), loaded


def test_pages_carry_security_headers(client, campaign):
    response = client.get(f"/c/{campaign.slug}")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_answer_carries_each_security_header_once(other_app, campaign):
    """Pages, errors and redirects alike; over https with HSTS too."""
    app = other_app(BASE_URL="https://threadline.test")
    client = app.test_client()
    for url in (f"/c/{campaign.slug}", "/", "/no/such/page", "/admin/dashboards"):
        headers = client.get(url, base_url="https://threadline.test").headers
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                     "X-Frame-Options", "Permissions-Policy", "Strict-Transport-Security"):
            assert len(headers.getlist(name)) == 1, (url, name)
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_risk_flag_hides_every_public_name(client, campaign):
    add_signer(campaign, "Chanthou")
    campaign.risk_flag = True
    db.session.commit()
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "Chanthou" not in page and "Recent signers" not in page


def test_the_page_speaks_the_readers_language_when_offered(other_app, campaign):
    app = other_app(LANGUAGES=["en", "fr"], BABEL_DEFAULT_LOCALE="en")
    client = app.test_client()

    def lang(accept: str | None) -> str:
        headers = {"Accept-Language": accept} if accept else {}
        html = client.get(f"/c/{campaign.slug}", headers=headers).get_data(as_text=True)
        return html.split('<html lang="')[1].split('"')[0]

    assert lang("fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert lang("de, en;q=0.5") == "en"
    assert lang("de") == "en" and lang(None) == "en"
