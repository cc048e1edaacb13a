"""The sign form. The JSON API validates with the same form."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from campaigns.core.countries import COUNTRY_CODES, CountrySelect, country_choices
from campaigns.core.i18n import CachedTranslationsMeta

URL_LIKE = re.compile(
    r"(://|www\.|\b[\w-]+\.(com|net|org|info|biz|io|ru|cn|xyz|top|ly|me|co|site|online)\b)",
    re.IGNORECASE,
)
#: characters that make a spreadsheet treat a cell as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

#: the wording shown next to the consent box, stored with each consent record
CONSENT_WORDING = _l(
    "Yes, keep me informed about this and other campaigns for workers' rights. "
    "I can unsubscribe at any time."
)


def plain_name(form: FlaskForm, field: StringField) -> None:
    value = field.data or ""
    if URL_LIKE.search(value):
        raise ValidationError(_l("Please enter a name, not a web address."))
    if value.startswith(FORMULA_PREFIXES):
        raise ValidationError(_l("A name cannot start with = + - or @."))
    if CONTROL_CHARACTERS.search(value) or "<" in value or ">" in value:
        raise ValidationError(_l("Please use letters only."))


def known_country(form: FlaskForm, field: SelectField) -> None:
    if field.data not in COUNTRY_CODES:
        raise ValidationError(_l("Please choose a country from the list."))


def valid_email(form: FlaskForm, field: EmailField) -> None:
    from email_validator import EmailNotValidError, validate_email
    from flask import current_app

    try:
        result = validate_email(
            field.data or "",
            check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"],
        )
    except EmailNotValidError:
        raise ValidationError(_l("Please enter a valid email address.")) from None
    field.data = result.normalized


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SupporterDetailsForm(FlaskForm):
    """Who a supporter is: the fields signing a petition and writing a letter share."""

    class Meta(CachedTranslationsMeta):
        pass

    first_name = StringField(_l("First name"), filters=[strip],
                             validators=[DataRequired(_l("Enter your first name.")), Length(max=50),
                                         plain_name],
                             render_kw={"autocomplete": "given-name"})
    last_name = StringField(_l("Last name"), filters=[strip],
                            validators=[DataRequired(_l("Enter your last name.")), Length(max=80),
                                        plain_name],
                            render_kw={"autocomplete": "family-name"})
    email = EmailField(_l("Email"), filters=[strip],
                       validators=[DataRequired(_l("Enter your email address.")), Length(max=254),
                                   valid_email],
                       render_kw={"autocomplete": "email"})
    country = SelectField(_l("Country"), widget=CountrySelect(),
                          validators=[DataRequired(_l("Choose your country.")), known_country],
                          validate_choice=False, render_kw={"autocomplete": "country"})


class SignatureForm(SupporterDetailsForm):
    postcode = StringField(_l("Postcode (optional)"), filters=[strip],
                           validators=[Optional(), Length(max=16)],
                           render_kw={"autocomplete": "postal-code"})
    comment = TextAreaField(_l("Why are you signing? (optional)"), filters=[strip],
                            validators=[Optional(), Length(max=500)])
    public = BooleanField(_l("Show my first name and country on this page"))
    consent_updates = BooleanField(CONSENT_WORDING)
    #: a trap for bots: hidden from people (and from screen readers), so only bots fill it
    website = StringField(_l("Leave this field empty"),
                          render_kw={"autocomplete": "off", "tabindex": "-1"})
    #: when the page was drawn, signed (see campaigns/signatures/abuse.py)
    started = HiddenField()
    #: the solved proof of work, when the campaign asks for one
    altcha = HiddenField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        from campaigns.signatures.abuse import form_started_token

        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose your country"))] + country_choices()
        # a form being drawn gets its start time; a submitted one keeps what it carried
        # (an API call carries none and needs none: it is not drawn)
        if not self.started.data and not self.is_submitted():
            self.started.data = form_started_token()


class ResendForm(FlaskForm):
    email = EmailField(_l("Email"), filters=[strip],
                       validators=[DataRequired(_l("Enter your email address.")), Length(max=254),
                                   valid_email])


class ConfirmForm(FlaskForm):
    """One button: a link scanner's GET is not enough to confirm."""
