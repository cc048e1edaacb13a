"""A target's reply, from the letter wave to the public tracker, in a real browser.

A supporter writes to the Riverside targets and confirms; the letter to the factory owner
carries the thread's reply address (read from the mail capture); a reply to that address
arrives at the inbound mail endpoint; the campaigner grades and publishes it in the
browser; the target's public page and the tracker change. A second test follows the
reminder Celery beat sends before a deadline, which carries the same address.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
import requests
from playwright.sync_api import expect

from campaigns.devmail.capture import read_messages
from tests.browser.conftest import INBOUND_MAIL_SECRET
from tests.browser.test_launch_flow import create_account, sign_in
from tests.browser.test_letters import letters_to, write_and_confirm
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(240)

TARGET = "crescent-textiles"
CONTACT = "md@crescent-textiles.example"


def wait_for_reminder(platform, timeout: float = 120.0):
    def reminder():
        return next((message for message in read_messages(platform.instance_dir / "mail")
                     if CONTACT in str(message.message["To"]) and message.message["Reply-To"]
                     and str(message.message["Subject"]).startswith("Reminder:")), None)

    return wait_until(reminder, timeout=timeout, interval=0.5, message=f"a reminder to {CONTACT}")


def tracker_row(page):
    page.goto("/companies?sort=name")
    return page.locator(f'tr[data-target="{TARGET}"]')


def open_thread(page):
    page.goto("/admin/replies/")
    row = page.get_by_role("row").filter(has_text="Riverside").filter(has_text="Crescent Textiles")
    row.get_by_role("link", name="Crescent Textiles Ltd.").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Crescent Textiles Ltd.")


def test_reminder_before_the_deadline_carries_the_reply_address(new_context, platform):
    campaigner = create_account(platform, f"deadline-{uuid.uuid4().hex[:6]}@network.example")
    page = new_context().new_page()
    sign_in(page, campaigner)
    open_thread(page)
    page.get_by_label("Answer due by").fill((date.today() + timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Set deadline").click()
    expect(page.locator(".flash")).to_contain_text("Deadline set")

    # Celery beat sends the reminder, Reply-To the thread's address
    reminder = wait_for_reminder(platform)
    reply_to = str(reminder.message["Reply-To"])
    assert reply_to.startswith("reply+")
    expect(page.locator("[data-reply-address]")).to_have_text(reply_to)


def test_letter_wave_reply_review_publish_and_public_pages(new_context, platform):
    campaigner = create_account(platform, f"replies-{uuid.uuid4().hex[:6]}@network.example")
    page = new_context().new_page()

    expect(tracker_row(page).locator('[data-col="rate"]')).to_have_text("0%")

    # a wave of letters goes out; the factory owner's carries the thread's reply address
    name = write_and_confirm(page, platform, f"Please answer {uuid.uuid4().hex[:8]}")
    [letter] = wait_until(lambda: letters_to(platform, CONTACT, name), timeout=120, interval=0.5,
                          message=f"the letter to {CONTACT}")
    reply_to = str(letter.message["Reply-To"])
    assert reply_to.startswith("reply+")

    sign_in(page, campaigner)
    open_thread(page)
    expect(page.locator("[data-reply-address]")).to_have_text(reply_to)

    # the company answers; its mail service posts the raw message to the inbound endpoint
    answer = EmailMessage()
    answer["From"] = "A. Rahman <md@crescent-textiles.example>"
    answer["To"] = reply_to
    answer["Subject"] = "Re: " + str(letter.message["Subject"])
    answer["Date"] = format_datetime(datetime.now(timezone.utc))
    answer.set_content("We will publish the accounts of the factory next month.\n\n"
                       "On Monday, Threadline wrote:\n> Please answer by ...")
    response = requests.post(platform.url("/inbound/mail"), data=answer.as_bytes(), timeout=30,
                             headers={"Content-Type": "message/rfc822",
                                      "X-Inbound-Secret": INBOUND_MAIL_SECRET})
    assert response.status_code == 200 and response.json()["state"] == "attached"

    # not public yet
    page.goto(f"/t/{TARGET}")
    expect(page.get_by_text("publish the accounts")).to_have_count(0)

    # the campaigner reviews, grades and publishes
    page.goto("/admin/replies/")
    page.get_by_role("row").filter(has_text="Riverside").filter(
        has_text="Crescent Textiles").get_by_role("link", name="Crescent Textiles Ltd.").click()
    expect(page.locator("pre.reply-text").first).to_contain_text("We will publish the accounts")
    page.get_by_role("link", name="Review, grade and publish").first.click()
    page.get_by_label("Public summary (Markdown)").fill(
        "Crescent Textiles **commits** to publish the factory's accounts next month.")
    page.get_by_label("Disclose the factory's accounts and pay what the law requires.").select_option(
        label="Partly met")
    page.get_by_label("Status of the thread").select_option(label="Commitment made")
    page.get_by_label("Commitment made in this reply (leave empty if none)").fill(
        "Publish the factory's accounts")
    page.get_by_role("button", name="Save and publish").click()
    expect(page.locator("[data-thread-status]")).to_have_text("Commitment made")

    # the public pages changed
    page.goto(f"/t/{TARGET}")
    expect(page.locator(".reply-summary strong").first).to_have_text("commits")
    expect(page.locator(".grades").first).to_contain_text("Partly met")
    expect(page.locator(".reply-status").first).to_contain_text("Commitment made")
    # the wave is on the public timeline
    expect(page.locator(".timeline li", has_text="Letters sent").first).to_be_attached()
    row = tracker_row(page)
    expect(row.locator('[data-col="rate"]')).to_have_text("100%")
    expect(row.locator('[data-col="commitments"]')).to_have_text("1")
    page.goto("/commitments")
    expect(page.get_by_text("Publish the factory's accounts")).to_be_visible()
