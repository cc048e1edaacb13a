"""A campaigner launches a campaign in a real browser: create it with targets, fail to launch
it without a worker consultation, record one, have a second campaigner approve it, and see
it on the public site. The platform runs as `make run` runs it (see conftest.py)."""
from __future__ import annotations

import os
import subprocess
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import BIN_DIR, NOT_INHERITED, REPO_ROOT

pytestmark = pytest.mark.timeout(180)

PASSWORD = "a long and careful passphrase"


def create_account(platform, email: str, role: str = "campaigner") -> str:
    """`flask users create` in the platform's instance, as an operator would."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(INSTANCE_PATH=str(platform.instance_dir))
    subprocess.run([str(BIN_DIR / "flask"), "--app", "wsgi", "users", "create", "--email", email,
                    "--role", role], input=PASSWORD + "\n", text=True, cwd=REPO_ROOT, env=env,
                   check=True, capture_output=True, timeout=60)
    return email


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")


def test_campaigner_creates_consults_and_launches_a_campaign(new_context, platform, results_dir):
    suffix = uuid.uuid4().hex[:6]
    slug, title = f"harbor-overtime-{suffix}", f"End forced overtime at Harbor ({suffix})"
    author = create_account(platform, f"author-{suffix}@network.example")
    approver = create_account(platform, f"approver-{suffix}@network.example")

    page = new_context().new_page()
    sign_in(page, author)
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Web address", exact=True).fill(slug)
    page.get_by_label("Summary", exact=True).fill("Workers sew 80 hours a week for Velora Apparel.")
    page.get_by_label("Story (Markdown)").fill("The union **asked** us. <script>alert(1)</script>")
    # the live preview: sanitised HTML from the server, shown as you type
    preview = page.locator("#story-preview")
    expect(preview.locator("strong")).to_have_text("asked")
    expect(preview.locator("script")).to_have_count(0)
    page.locator("#targets-0-target").select_option(label="Velora Apparel (Brand)")
    page.locator("#targets-0-ask").fill("Require Harbor to end forced overtime within 30 days.")
    page.locator("#targets-1-target").select_option(label="Harbor Knitwear Co. (Supplier)")
    page.locator("#targets-1-ask").fill("End forced overtime and pay what is owed.")
    page.get_by_label("Signature goal").fill("2000")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="State: Draft")).to_be_visible()

    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("heading", name="State: In review")).to_be_visible()

    # the second campaigner tries to launch it: refused, there is no consultation record
    other = new_context().new_page()
    sign_in(other, approver)
    other.goto(f"/admin/campaigns/{slug}/edit")
    other.get_by_role("button", name="Approve and launch").click()
    expect(other.get_by_role("alert")).to_contain_text("needs a current worker consultation")
    expect(other.get_by_role("heading", name="State: In review")).to_be_visible()

    # the author records the consultation (organisations only, never workers' names)
    page.get_by_role("link", name="Worker consultations").click()
    expect(page.get_by_text("Do not write any worker's name here").first).to_be_visible()
    page.get_by_label("Who asked for the campaign").select_option(label="Union")
    page.get_by_label("Their organisation").fill("Harbor Knitwear Workers' Union")
    page.get_by_label("Country of the workers").select_option(label="Cambodia")
    page.get_by_label("Date of the consultation").fill((date.today() - timedelta(days=2)).isoformat())
    page.get_by_label("They approved the demands").check()
    page.get_by_label("They approved naming the factory in public").check()
    page.get_by_label("They approved the timing").check()
    page.get_by_label("Known retaliation risks").fill("Dismissal of union members; the union follows up.")
    page.get_by_label("Valid until").fill((date.today() + timedelta(days=90)).isoformat())
    page.get_by_role("button", name="Record the consultation").click()
    expect(page.get_by_text("Current consultation: valid until")).to_be_visible()

    # the author may not approve their own campaign
    page.goto(f"/admin/campaigns/{slug}/edit")
    page.get_by_role("button", name="Approve and launch").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone else must approve it")

    # the second campaigner approves: it is live
    other.goto(f"/admin/campaigns/{slug}/edit")
    other.get_by_role("button", name="Approve and launch").click()
    expect(other.get_by_role("heading", name="State: Live")).to_be_visible()
    other.screenshot(path=str(results_dir / "launch-workspace.png"), full_page=True)

    public = new_context().new_page()
    public.goto("/")
    public.get_by_role("link", name=title).click()
    expect(public).to_have_url(platform.url(f"/c/{slug}"))
    expect(public.get_by_role("heading", level=1)).to_have_text(title)
    expect(public.get_by_text("Require Harbor to end forced overtime within 30 days.")).to_be_visible()
    public.goto("/t/velora-apparel")
    expect(public.get_by_role("link", name=title)).to_be_visible()
    public.screenshot(path=str(results_dir / "launch-public.png"), full_page=True)


def test_campaign_form_works_on_a_phone(new_context, platform, results_dir):
    email = create_account(platform, f"phone-{uuid.uuid4().hex[:6]}@network.example")
    context = new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                          is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, email)
    page.goto("/admin/campaigns/new")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check the form")
    expect(page.get_by_label("Title", exact=True)).to_have_attribute("aria-invalid", "true")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the form scrolls sideways: {widths[0]}px in {widths[1]}px"
    fields = page.locator("form.campaign-form").locator(
        "input:not([type=hidden]):not([type=submit]), select, textarea")
    for i in range(fields.count()):
        element = fields.nth(i)
        labels = element.evaluate("el => Array.from(el.labels || []).map(l => l.textContent.trim())")
        assert labels and labels[0], f"the {element.get_attribute('name')!r} field has no label"
    page.screenshot(path=str(results_dir / "campaign-form-phone.png"), full_page=True)
