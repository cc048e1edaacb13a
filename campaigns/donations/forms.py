"""The donate form (posted by donate.js) and the forms to manage a monthly gift."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from campaigns.donations.models import DONATION_STATE_LABELS, FREQUENCY_LABELS, DonationState, Frequency
from campaigns.donations.operations import ATTEMPT_KEY, amount_limits, format_money
from campaigns.signatures.forms import plain_name, strip, valid_email

OTHER = "other"
PAYMENT_METHOD = re.compile(r"^(pm|card|src)_[A-Za-z0-9_]{1,250}$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_amount(text: str | None) -> int | None:
    """ "12", "12.5", "12,50" -> cents; None when it is not an amount."""
    cleaned = (text or "").strip().replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"\d{1,7}(\.\d{1,2})?", cleaned):
        return None
    try:
        return int(Decimal(cleaned) * 100)
    except InvalidOperation:
        return None


class AmountMixin:
    """A preset amount or a free one, between the deployment's minimum and maximum."""

    def chosen_amount(self) -> int | None:
        """The amount in cents; only call after validate()."""
        if self.amount.data == OTHER:
            return parse_amount(self.other_amount.data)
        return int(self.amount.data)

    def validate_other_amount(self, field: StringField) -> None:
        if self.amount.data != OTHER:
            return
        cents = parse_amount(field.data)
        low, high = amount_limits()
        if cents is None:
            raise ValidationError(_l("Please enter an amount, such as 10 or 12.50."))
        if cents < low or cents > high:
            raise ValidationError(_l("Please give between %(low)s and %(high)s.",
                                     low=format_money(low), high=format_money(high)))


class DonationForm(AmountMixin, FlaskForm):
    amount = RadioField(_l("Amount"), validators=[DataRequired()])
    other_amount = StringField(_l("Other amount"), filters=[strip],
                               render_kw={"inputmode": "decimal", "autocomplete": "off"})
    frequency = RadioField(_l("How often"), default=Frequency.ONCE.value,
                           choices=[SelectChoice(Frequency.ONCE.value, _l("Once")),
                                    SelectChoice(Frequency.MONTHLY.value, _l("Every month"))],
                           validators=[DataRequired()])
    name = StringField(_l("Your name"), filters=[strip],
                       validators=[DataRequired(), Length(max=120), plain_name],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("Email"), filters=[strip],
                       validators=[DataRequired(), Length(max=254), valid_email],
                       render_kw={"autocomplete": "email"})
    #: filled by donate.js with the payment method Stripe.js created
    payment_method = HiddenField(validators=[Optional(), Regexp(PAYMENT_METHOD)])
    #: the idempotency key of this attempt, rendered by the server
    attempt = HiddenField(validators=[DataRequired(), Regexp(ATTEMPT_KEY)])

    def __init__(self, presets: list[int], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.amount.choices = [(str(cents), format_money(cents)) for cents in presets]
        self.amount.choices.append((OTHER, _l("Other")))
        if not self.is_submitted() and presets:  # a suggestion, never a default for a POST
            self.amount.data = str(presets[min(1, len(presets) - 1)])


class ChangeAmountForm(AmountMixin, FlaskForm):
    amount = RadioField(_l("New monthly amount"), validators=[DataRequired()])
    other_amount = StringField(_l("Other amount"), filters=[strip],
                               render_kw={"inputmode": "decimal", "autocomplete": "off"})

    def __init__(self, presets: list[int], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.amount.choices = [(str(cents), format_money(cents)) for cents in presets]
        self.amount.choices.append((OTHER, _l("Other")))


class CardSetupForm(FlaskForm):
    """Only the CSRF token: the card itself goes from Stripe.js to Stripe, never to us."""


class CancelGiftForm(FlaskForm):
    """One button: a link scanner's GET never cancels anything."""


class DonationFilterForm(FlaskForm):
    """Filters of the admin list (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    campaign = SelectField(_l("Campaign"), validators=[Optional()], validate_choice=False)
    state = SelectField(_l("State"), validators=[Optional()],
                        choices=[SelectChoice("", _l("Any state"))]
                        + [SelectChoice(s.value, DONATION_STATE_LABELS[s]) for s in DonationState])
    frequency = SelectField(_l("Kind"), validators=[Optional()],
                            choices=[SelectChoice("", _l("One-off and monthly"))]
                            + [SelectChoice(f.value, FREQUENCY_LABELS[f]) for f in Frequency])
    month = StringField(_l("Month (YYYY-MM)"), filters=[strip],
                        validators=[Optional(), Regexp(MONTH)])
    email = StringField(_l("Email contains"), filters=[strip], validators=[Optional(), Length(max=254)])
