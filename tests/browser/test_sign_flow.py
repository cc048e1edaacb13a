"""A newcomer signs a petition in a real browser, on a desktop and on a phone.

The platform runs as `make run` runs it (see conftest.py): gunicorn, a Celery worker with
beat folding confirmed signatures into the counts every few seconds, and the local mail
capture read through the mail viewer at /dev/mail/.
"""
from __future__ import annotations

import re
import time
import uuid
from typing import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.timeout(180)

SLUG = "riverside-severance"
TITLE = "Pay the 1,260 Riverside workers the severance they are owed"
PUBLIC_LABEL = "Show my first name and country on this page"
#: the beat folds confirmed signatures into the counts every 5 s
COUNT_TIMEOUT = 30.0
MAIL_TIMEOUT = 30.0


def unique_first_name() -> str:
    """A name of letters only (the form refuses anything that looks like a web address)."""
    letters = "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])
    return "Amara" + letters


def count_on(page: Page) -> int:
    text = page.locator(".progress [data-count]").inner_text()
    digits = re.sub(r"\D", "", text)  # thousands separators differ between languages
    assert digits, f"no number in the count: {text!r}"
    return int(digits)


def reload_until(page: Page, url: str, ready: Callable[[], bool], timeout: float,
                 what: str) -> None:
    """Open ``url`` and reload it until ``ready()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    page.goto(url)
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        page.wait_for_timeout(500)
        page.reload()


def sign_form(page: Page) -> Locator:
    return page.locator("form.sign-form")


def test_newcomer_signs_confirms_and_sees_count_rise(page: Page, platform, results_dir):
    first_name = unique_first_name()
    email = f"newcomer-{uuid.uuid4().hex}@example.org"

    page.goto("/")
    page.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(platform.url(f"/c/{SLUG}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    before = count_on(page)

    form = sign_form(page)
    form.get_by_label("First name", exact=True).fill(first_name)
    form.get_by_label("Last name", exact=True).fill("Okafor")
    form.get_by_label("Email", exact=True).fill(email)
    form.get_by_label("Country", exact=True).select_option(label="Germany")
    form.get_by_label(PUBLIC_LABEL).check()
    form.get_by_role("button", name="Sign", exact=True).click()

    expect(page).to_have_url(platform.url(f"/c/{SLUG}/thanks"))
    expect(page.get_by_role("heading", level=1)).to_have_text("One more step: check your email")

    # The confirmation email, read as a newcomer on a laptop would: in the mail viewer.
    row = page.get_by_role("row").filter(has_text=email)
    reload_until(page, platform.url("/dev/mail/"), lambda: row.count() > 0,
                 MAIL_TIMEOUT, f"the confirmation email to {email} in the mail viewer")
    row.first.get_by_role("link").click()  # newest first
    expect(page.locator("dl.headers")).to_contain_text(email)
    page.locator("pre.mail-text").get_by_role(
        "link", name=re.compile(r"\/sign\/confirm\/")).first.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your signature")
    page.get_by_role("button", name="Yes, count my signature").click()
    expect(page).to_have_url(platform.url(f"/c/{SLUG}/confirmed"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your signature counts")

    seen: list[int] = []

    def risen() -> bool:
        seen.append(count_on(page))
        return seen[-1] >= before + 1

    reload_until(page, platform.url(f"/c/{SLUG}"), risen, COUNT_TIMEOUT,
                 f"the count to rise from {before}")
    assert seen[-1] == before + 1, f"count went from {before} to {seen[-1]}, expected +1"
    signers = page.get_by_role("region", name="Recent signers")
    expect(signers).to_contain_text(f"{first_name}, Germany")
    page.screenshot(path=str(results_dir / "campaign-desktop.png"), full_page=True)


def test_campaign_page_works_on_a_phone(new_context, platform, results_dir):
    context = new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                          is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"/c/{SLUG}")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)

    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]}px in {widths[1]}px"

    form = sign_form(page)
    button = form.get_by_role("button", name="Sign", exact=True)
    button.scroll_into_view_if_needed()
    expect(button).to_be_visible()
    expect(button).to_be_in_viewport()

    fields = form.locator("input:not([type=hidden]), select, textarea")
    assert fields.count() >= 8
    for i in range(fields.count()):
        element = fields.nth(i)
        name = element.get_attribute("name")
        labels = element.evaluate(
            "el => Array.from(el.labels || []).map(l => l.textContent.trim())")
        assert labels and labels[0], f"the {name!r} field has no label"
        found = form.get_by_label(labels[0], exact=True)
        expect(found, f"get_by_label({labels[0]!r}) finds the {name!r} field").to_have_count(1)
        expect(found).to_have_attribute("name", name)

    page.screenshot(path=str(results_dir / "campaign-phone.png"), full_page=True)


def test_form_errors_are_shown_next_to_fields(page: Page):
    page.goto(f"/c/{SLUG}")
    form = sign_form(page)
    form.get_by_role("button", name="Sign", exact=True).click()

    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Please check the form")
    for label in ("First name", "Last name", "Email", "Country"):
        expect(form.get_by_label(label, exact=True)).to_have_attribute("aria-invalid", "true")


def test_under_attack_the_browser_solves_the_proof_of_work_and_the_signature_counts(
        page: Page, platform):
    import sqlite3

    slug = "eastgate-safe-factories"
    with sqlite3.connect(platform.instance_dir / "threadline.sqlite") as db:
        db.execute("UPDATE campaign SET proof_of_work = 1 WHERE slug = ?", (slug,))
    email = f"under-attack-{uuid.uuid4().hex}@example.org"
    page.goto(f"/c/{slug}")
    form = sign_form(page)
    expect(form.get_by_role("status")).to_have_text("Check done. You can sign.", timeout=60_000)
    form.get_by_label("First name", exact=True).fill("Mei")
    form.get_by_label("Last name", exact=True).fill("Chen")
    form.get_by_label("Email", exact=True).fill(email)
    form.get_by_label("Country", exact=True).select_option(label="Germany")
    form.get_by_role("button", name="Sign", exact=True).click()
    expect(page).to_have_url(platform.url(f"/c/{slug}/thanks"))
    # A confirmation email is only sent for a signature that was not taken for abuse.
    row = page.get_by_role("row").filter(has_text=email)
    reload_until(page, platform.url("/dev/mail/"), lambda: row.count() > 0,
                 MAIL_TIMEOUT, f"the confirmation email to {email}")
