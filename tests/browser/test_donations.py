"""A newcomer gives once and monthly through localstripe's Stripe.js, then cancels.

The platform runs as `make run` runs it: with no STRIPE_SECRET_KEY, `flask embedded`
starts localstripe on loopback and registers the platform's webhook with it; the donate
page loads localstripe's Stripe.js (the request guard checks nothing leaves the machine).
"""
from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(180)

SLUG = "riverside-severance"
MAIL_TIMEOUT = 30.0


def fill_card(page: Page, number: str) -> None:
    """localstripe's card element: five plain inputs named by their placeholders."""
    card = page.locator("#payment-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10115")


def give(page: Page, amount: str, frequency: str, email: str, number: str = "4242424242424242") -> None:
    page.goto(f"/c/{SLUG}/donate")
    form = page.locator("form.donate-form")
    form.get_by_label(frequency, exact=True).check()
    form.get_by_label(amount, exact=True).check()
    form.get_by_label("Your name", exact=True).fill("Amara Okafor")
    form.get_by_label("Email", exact=True).fill(email)
    fill_card(page, number)
    form.get_by_role("button", name="Give", exact=True).click()


def open_mail(page: Page, platform, email: str) -> None:
    """Open the newest email to ``email`` in the mail viewer, reloading until it is there."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    page.goto(platform.url("/dev/mail/"))
    row = page.get_by_role("row").filter(has_text=email)
    while row.count() == 0:
        assert time.monotonic() < deadline, f"no email to {email} in the mail viewer"
        page.wait_for_timeout(500)
        page.reload()
    row.first.get_by_role("link").click()


def test_newcomer_gives_once_and_monthly_then_cancels_the_monthly_gift(page: Page, platform,
                                                                         results_dir):
    email = f"giver-{uuid.uuid4().hex[:10]}@example.org"

    # From the campaign page to the donate page
    page.goto(f"/c/{SLUG}")
    page.get_by_role("link", name="Give to this campaign").click()
    expect(page).to_have_url(platform.url(f"/c/{SLUG}/donate"))
    expect(page.locator("#donate-unavailable")).to_be_hidden()
    page.screenshot(path=str(results_dir / "donate.png"), full_page=True)

    give(page, "€10", "Once", email)
    expect(page).to_have_url(platform.url(f"/c/{SLUG}/donate/thanks?monthly=0"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your gift")
    open_mail(page, platform, email)
    expect(page.locator("pre.mail-text")).to_contain_text("Thank you for your gift of €10")

    give(page, "€5", "Every month", email)
    expect(page).to_have_url(platform.url(f"/c/{SLUG}/donate/thanks?monthly=1"))
    deadline = time.monotonic() + MAIL_TIMEOUT
    while True:  # the monthly receipt comes with the invoice
        open_mail(page, platform, email)
        if "monthly gift of €5" in page.locator("pre.mail-text").inner_text():
            break
        assert time.monotonic() < deadline, "no receipt for the monthly gift"
        page.wait_for_timeout(500)
    page.locator("pre.mail-text").get_by_role(
        "link", name=re.compile(r"\/donate\/monthly\/")).first.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your monthly gift")
    expect(page.locator("[data-gift-amount]")).to_have_text("€5 a month")
    page.get_by_role("button", name="Cancel my monthly gift").click()
    expect(page.get_by_role("status")).to_contain_text("Your monthly gift is cancelled")
    expect(page.locator("[data-gift-state]")).to_have_text("Cancelled")
    page.screenshot(path=str(results_dir / "monthly-gift-cancelled.png"), full_page=True)

    # The campaign's partner union sees it all in the workspace
    viewer = next(line.split() for line in
                  (platform.instance_dir / "demo-logins.txt").read_text().splitlines()
                  if line.split() and line.split()[0] == "viewer")
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(viewer[1])
    page.get_by_label("Password", exact=True).fill(viewer[2])
    page.get_by_role("button", name="Sign in").click()
    page.goto("/admin/donations/?email=" + email)
    rows = page.locator("table.donations tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("€5")
    expect(rows.nth(1)).to_contain_text("€10")
    expect(page.locator("table.gifts tr[data-state=cancelled]").first).to_contain_text(email)
    expect(page.locator("svg.month-chart rect.bar")).to_have_count(12)
    page.screenshot(path=str(results_dir / "donations-admin.png"), full_page=True)


def test_declined_card_is_explained_and_can_be_retried(page: Page):
    email = f"declined-{uuid.uuid4().hex[:10]}@example.org"
    give(page, "€25", "Once", email, number="4000000000000341")
    status = page.locator("[data-donate-status]")
    expect(status).to_contain_text("declined")
    expect(page.get_by_role("button", name="Give", exact=True)).to_be_enabled()

    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Give", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your gift")


def test_donate_page_says_so_when_stripe_cannot_be_reached(page: Page, platform):
    page.route(re.compile(r".*/js\.stripe\.com/.*"), lambda route: route.abort())
    page.goto(f"/c/{SLUG}/donate")
    notice = page.locator("#donate-unavailable")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Online giving is not available right now")
    expect(page.locator("form.donate-form")).to_be_hidden()
    page.goto(f"/c/{SLUG}")  # everything else works as usual
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_card_that_asks_for_authentication(page: Page, platform):
    """The bank's check (3-D Secure) happens in the page; the payment completes after it."""
    email = f"secure-{uuid.uuid4().hex[:10]}@example.org"
    give(page, "€50", "Once", email, number="4000002500003155")
    for _ in range(2):  # localstripe asks when the card is saved, then when it is charged
        page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your gift")
    open_mail(page, platform, email)  # the receipt follows Stripe's webhook
    expect(page.locator("pre.mail-text")).to_contain_text("Thank you for your gift of €50")
