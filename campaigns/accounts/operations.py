"""The rules of campaigner accounts: passwords, sign-in, two-factor codes, resets."""
from __future__ import annotations

import hashlib

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from campaigns.accounts.models import Campaigner, Organisation, Role
from campaigns.audit.operations import record
from campaigns.core.db import db, utcnow
from campaigns.core.mail import queue_email
from campaigns.core.tokens import BadSignature, SignatureExpired, make_token, read_token
from campaigns.core.urls import external_url

hasher = PasswordHasher()
#: verified against when the email is unknown, so both answers take as long
_DUMMY_HASH = hasher.hash("threadline-no-such-account")
RESET_PURPOSE = "password-reset"
MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    pass


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"at least {MIN_PASSWORD_LENGTH} characters")


def find_campaigner(email: str) -> Campaigner | None:
    return db.session.scalars(
        select(Campaigner).filter_by(email=email.strip().lower())
    ).first()


def create_campaigner(*, email: str, name: str, password: str, role: Role,
                      organisation: Organisation | None = None) -> Campaigner:
    check_password_strength(password)
    campaigner = Campaigner(email=email.strip().lower(), name=name, role=role,
                            password_hash=hasher.hash(password), organisation=organisation)
    db.session.add(campaigner)
    db.session.flush()
    record("campaigner.created", campaigner, email=campaigner.email, role=role.value)
    return campaigner


def set_password(campaigner: Campaigner, password: str) -> None:
    """Change the password and end every other session of this account."""
    check_password_strength(password)
    campaigner.password_hash = hasher.hash(password)
    campaigner.session_version += 1
    record("campaigner.password_changed", campaigner)


def authenticate(email: str, password: str) -> Campaigner | None:
    """The active campaigner with these credentials, or None (in constant-ish time)."""
    campaigner = find_campaigner(email)
    try:
        hasher.verify(campaigner.password_hash if campaigner else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if campaigner is None or not campaigner.active:
        return None
    if hasher.check_needs_rehash(campaigner.password_hash):
        campaigner.password_hash = hasher.hash(password)
    return campaigner


def record_login(campaigner: Campaigner) -> None:
    campaigner.last_login_at = utcnow()
    record("campaigner.login", campaigner, actor=campaigner)


# --- two-factor sign-in (TOTP) ---------------------------------------------------------

def totp_for(campaigner: Campaigner) -> pyotp.TOTP:
    return pyotp.TOTP(campaigner.totp_secret or "")


def start_two_factor_setup(campaigner: Campaigner) -> str:
    """A new secret, kept until a first code confirms it; returns the provisioning URI."""
    if campaigner.totp_secret is None:
        campaigner.totp_secret = pyotp.random_base32()
    return totp_for(campaigner).provisioning_uri(
        name=campaigner.email, issuer_name=current_app.config["SITE_NAME"]
    )


def verify_code(campaigner: Campaigner, code: str) -> bool:
    """True for a current code not used before (one step of clock drift allowed)."""
    if not campaigner.totp_secret:
        return False
    code = "".join(code.split())
    totp = totp_for(campaigner)
    now = utcnow()
    for drift in (0, -1, 1):
        at = now.timestamp() + drift * totp.interval
        step = int(at // totp.interval)
        if totp.at(int(at)) == code:
            if campaigner.totp_last_step is not None and step <= campaigner.totp_last_step:
                return False  # replayed
            campaigner.totp_last_step = step
            return True
    return False


def enable_two_factor(campaigner: Campaigner, code: str) -> bool:
    if not verify_code(campaigner, code):
        return False
    campaigner.totp_enabled_at = utcnow()
    record("campaigner.two_factor_enabled", campaigner)
    return True


# --- password reset ----------------------------------------------------------------------

def _password_fingerprint(campaigner: Campaigner) -> str:
    """Changes with the password, so a reset link works once."""
    return hashlib.sha256(campaigner.password_hash.encode()).hexdigest()[:16]


def send_password_reset(email: str) -> None:
    """Email a reset link if an active account has this address; silent either way."""
    campaigner = find_campaigner(email)
    if campaigner is None or not campaigner.active:
        return
    token = make_token(RESET_PURPOSE, [campaigner.id, _password_fingerprint(campaigner)])
    queue_email("password_reset", campaigner.email, "accounts/password_reset",
                name=campaigner.name, reset_url=external_url("accounts.reset_password", token=token))


def campaigner_from_reset_token(token: str) -> Campaigner | None:
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
    try:
        campaigner_id, fingerprint = read_token(RESET_PURPOSE, token, max_age=max_age)
    except (SignatureExpired, BadSignature, ValueError, TypeError):
        return None
    campaigner = db.session.get(Campaigner, campaigner_id)
    if campaigner is None or not campaigner.active:
        return None
    if _password_fingerprint(campaigner) != fingerprint:
        return None
    return campaigner
