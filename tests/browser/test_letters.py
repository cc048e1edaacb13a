"""A supporter writes to the Riverside targets in a real browser: preview, confirm from the
mail viewer, and the letters reach each chosen contact from the platform's address with the
supporter's name and the thread's reply address. The campaigner follows, pauses and resumes."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from campaigns.devmail.capture import read_messages
from tests.browser.conftest import BIN_DIR, NOT_INHERITED, REPO_ROOT  # noqa: F401
from tests.browser.test_launch_flow import create_account, sign_in
from tests.browser.test_sign_flow import reload_until
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(240)

SLUG = "riverside-severance"
MAIL_TIMEOUT = 60.0
#: the demo's contacts for a supporter with a postcode starting 12 (the north office)
RECIPIENTS = ["ceo@northwind-athletics.example", "csr@northwind-athletics.example",
              "md@crescent-textiles.example", "minister@labour-ministry.example",
              "north.office@labour-ministry.example.org"]


def letters_to(platform, address: str, marker: str):
    return [m for m in read_messages(platform.instance_dir / "mail")
            if address in m.to and marker in m.text]


def write_and_confirm(page: Page, platform, marker: str, results_dir=None) -> str:
    """A supporter writes to the Riverside targets, previews, sends and confirms from the
    mail viewer; returns the name the letters are signed with."""
    last_name = "Silva" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:6])
    email = f"writer-{uuid.uuid4().hex}@example.org"

    page.goto(f"/c/{SLUG}")
    page.get_by_role("link", name="Write a letter").click()
    expect(page).to_have_url(platform.url(f"/c/{SLUG}/write"))
    expect(page.get_by_text("Helena Brandt, Chief Executive Officer")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("ceo@northwind-athletics.example")

    brand_letter = page.get_by_label("Your letter to Northwind Athletics")
    brand_letter.fill(brand_letter.input_value() + "\n\n" + marker)
    page.get_by_label("Workers' rights").count()  # subjects are radio buttons; the first is chosen
    page.get_by_label("First name", exact=True).fill("Ana")
    page.get_by_label("Last name", exact=True).fill(last_name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Country", exact=True).select_option(label="Portugal")
    page.get_by_label("Postcode", exact=True).fill("1205")
    page.get_by_role("button", name="Preview my letters").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your letters before sending")
    expect(page.locator("body")).to_contain_text(marker)
    expect(page.locator("body")).to_contain_text("Regional Labour Office, North (demo)")
    expect(page.locator("body")).not_to_contain_text("Regional Labour Office, South (demo)")
    if results_dir is not None:
        page.screenshot(path=str(results_dir / "letters-preview.png"), full_page=True)
    page.get_by_role("button", name="Send my letters").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("One more step: check your email")

    row = page.get_by_role("row").filter(has_text=email)
    reload_until(page, platform.url("/dev/mail/"), lambda: row.count() > 0, MAIL_TIMEOUT,
                 f"the confirmation email to {email}")
    row.first.get_by_role("link").click()
    page.locator("pre.mail-text").get_by_role("link", name=re.compile(r"\/letters\/confirm\/")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send your letters")
    page.get_by_role("button", name="Yes, send my letters").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your letters are on their way")
    return f"Ana {last_name}"


def test_a_supporter_writes_previews_confirms_and_the_targets_receive_the_letters(
        new_context, platform, results_dir):
    page = new_context().new_page()
    marker = f"My own words {uuid.uuid4().hex[:8]}"
    name = write_and_confirm(page, platform, marker, results_dir)
    last_name = name.removeprefix("Ana ")

    wait_until(lambda: all(letters_to(platform, a, f"Ana {last_name}") for a in RECIPIENTS),
               timeout=MAIL_TIMEOUT, interval=0.5, message="the letter at every contact")
    for address in RECIPIENTS:
        [letter] = letters_to(platform, address, f"Ana {last_name}")
        sender = letter.message["From"].addresses[0]
        assert sender.display_name == f"Ana {last_name} via Threadline"
        assert sender.addr_spec == "no-reply@threadline.localhost"
        assert re.fullmatch(r"reply\+[a-z0-9]{20}@threadline\.localhost", str(letter.message["Reply-To"]))
    assert marker in letters_to(platform, "ceo@northwind-athletics.example", f"Ana {last_name}")[0].text
    assert not letters_to(platform, "south.office@labour-ministry.example.org", f"Ana {last_name}")


def test_the_campaigner_follows_the_letters_pauses_and_resumes(new_context, platform, results_dir):
    email = create_account(platform, f"letters-{uuid.uuid4().hex[:6]}@network.example")
    page = new_context().new_page()
    sign_in(page, email)
    page.goto(f"/admin/campaigns/{SLUG}/letters")
    expect(page.get_by_role("heading", level=1)).to_have_text("Letters to targets")
    expect(page.locator("table.letter-progress")).to_be_visible()
    page.get_by_role("button", name="Pause sending").click()
    expect(page.locator("body")).to_contain_text("Sending is paused")
    expect(page.locator("p strong", has_text="Paused")).to_be_visible()
    page.get_by_role("button", name="Resume sending").click()
    expect(page.locator("body")).to_contain_text("Sending has resumed")
    expect(page.locator("p strong", has_text="Paused")).to_have_count(0)
    page.screenshot(path=str(results_dir / "letters-workspace.png"), full_page=True)


def test_the_letter_page_works_on_a_phone(new_context, platform):
    context = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"/c/{SLUG}/write")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]}px in {widths[1]}px"
    expect(page.get_by_role("button", name="Preview my letters")).to_be_visible()
