"""Reading inbound mail with the standard library (``email``, policy=default).

Nothing here touches the database: ``parse`` turns raw bytes into a ``ParsedMessage``
(or raises ``Malformed``); operations decide where it goes.
"""
from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage

import nh3

from campaigns.replies.addresses import token_from_address

#: headers that may carry the address the message was sent to
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
_QUOTE_HEADER = re.compile(
    r"^(On .{0,200}wrote:|Le .{0,200}a écrit ?:|Am .{0,200}schrieb .{0,200}:|"
    r"-{2,} ?Original Message ?-{2,}|-{2,} ?Forwarded message ?-{2,}|"
    r"_{10,}|From: .+|De : .+|Von: .+)\s*$",
    re.IGNORECASE,
)


class Malformed(ValueError):
    """The bytes are not a message we can read."""


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMessage:
    tokens: list[str]
    from_header: str
    subject: str
    message_id: str
    date: datetime | None
    text: str
    excerpt: str
    attachments: list[Attachment] = field(default_factory=list)


def html_to_text(html: str) -> str:
    """Text from an HTML part: tags stripped by nh3 (script and style content dropped)."""
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h\d>", "\n", html)
    cleaned = nh3.clean(html, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    import html as html_module

    text = html_module.unescape(cleaned)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply: stop at the quoted history ("On ... wrote:", "> ...")."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_HEADER.match(stripped):
            break
        kept.append(line)
    result = "\n".join(kept).strip()
    return result or text.strip()


def _decoded_text(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):  # unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (IndexError, ValueError, TypeError):  # a header the parser cannot make sense of
        return ""
    return str(value or "").replace("\r", " ").replace("\n", " ").strip()


def recipient_tokens(message: EmailMessage) -> list[str]:
    """Thread tokens found in the recipient headers, in order, without repeats."""
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        try:
            values = message.get_all(name) or []
        except (IndexError, ValueError, TypeError):
            continue
        for value in values:
            for _, address in email.utils.getaddresses([str(value)]):
                token = token_from_address(address) if address else None
                if token and token not in found:
                    found.append(token)
    return found


def parse(raw: bytes) -> ParsedMessage:
    """Read a raw RFC 822 message; raises Malformed when it has no usable content."""
    if not raw or not raw.strip():
        raise Malformed("empty message")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; anything escaping it is malformed
        raise Malformed(repr(exc)) from exc
    if message.defects and not message.keys():
        raise Malformed("no headers")
    if not message.keys():
        raise Malformed("no headers")
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    try:
        for part in message.walk():
            if part.is_multipart():
                continue
            disposition = part.get_content_disposition()
            content_type = part.get_content_type()
            if disposition == "attachment" or (disposition == "inline" and part.get_filename()) \
                    or (content_type not in ("text/plain", "text/html")
                        and content_type != "message/rfc822"):
                data = part.get_payload(decode=True) or b""
                attachments.append(Attachment(filename=part.get_filename() or "attachment",
                                              content_type=content_type, data=data))
            elif content_type == "text/plain":
                text_parts.append(_decoded_text(part))
            elif content_type == "text/html":
                html_parts.append(_decoded_text(part))
    except Exception as exc:  # a broken MIME structure
        raise Malformed(repr(exc)) from exc
    text = "\n\n".join(t.strip() for t in text_parts if t.strip())
    if not text and html_parts:
        text = "\n\n".join(html_to_text(h) for h in html_parts)
    date = None
    date_header = _header(message, "Date")
    if date_header:
        try:
            date = email.utils.parsedate_to_datetime(date_header)
            if date.tzinfo is None:
                date = date.replace(tzinfo=timezone.utc)
        except (TypeError, ValueError, IndexError):
            date = None
    return ParsedMessage(
        tokens=recipient_tokens(message),
        from_header=_header(message, "From")[:320],
        subject=_header(message, "Subject")[:300],
        message_id=_header(message, "Message-ID")[:300],
        date=date,
        text=text,
        excerpt=strip_quoted(text)[:5000],
        attachments=attachments,
    )
