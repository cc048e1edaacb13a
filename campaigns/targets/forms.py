"""Workspace forms for the target registry."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import URL, DataRequired, Email, Length, Optional, Regexp, ValidationError

from campaigns.core.countries import COUNTRY_CODES, country_choices
from campaigns.petitions.forms import SLUG
from campaigns.targets.models import TARGET_KIND_LABELS, TargetKind


class TargetForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=200)])
    slug = StringField(_l("Web address"), validators=[
        DataRequired(_l("Choose a web address.")), Length(max=80),
        Regexp(SLUG, message=_l("Use lower-case letters, digits and hyphens, e.g. northwind-athletics."))])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(kind.value, TARGET_KIND_LABELS[kind]) for kind in TargetKind],
                       validators=[DataRequired()])
    country = SelectField(_l("Country"), validate_choice=False, validators=[Optional()])
    website = URLField(_l("Website"), validators=[
        Optional(), Regexp(r"^https?://", message=_l("Enter a full web address, starting with https://.")),
        URL(message=_l("Enter a full web address, starting with https://.")), Length(max=300)])
    description = TextAreaField(_l("Public description"), validators=[Length(max=5000)],
                                render_kw={"rows": 3})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("None or several"))] + country_choices()

    def validate_country(self, field):
        if field.data and field.data not in COUNTRY_CODES:
            raise ValidationError(_l("Please choose a country from the list."))


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name or the office.")),
                                               Length(max=200)])
    role = StringField(_l("Position"), validators=[DataRequired(_l("Enter the position.")),
                                                   Length(max=200)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(_l("Enter a valid email address.")),
                                                Length(max=320)])
    email_public = BooleanField(_l("The address may be shown to the public"))
    active = BooleanField(_l("Active (receives letters)"), default=True)
