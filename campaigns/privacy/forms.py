"""Forms of the preferences page and of the supporters workspace."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField
from wtforms.validators import DataRequired, Length

from campaigns.privacy.operations import PREFERENCES_WORDING
from campaigns.signatures.forms import strip, valid_email


class PreferencesForm(FlaskForm):
    campaign_updates = BooleanField(PREFERENCES_WORDING)


class ExportRequestForm(FlaskForm):
    """One button: email me my data."""


class ErasureForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand: my name, email and postcode will be erased for good. "
           "My signatures stay counted, without my name."),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class SupporterSearchForm(FlaskForm):
    email = EmailField(_l("Exact email address"), filters=[strip],
                       validators=[DataRequired(_l("Enter an email address.")), Length(max=254),
                                   valid_email])


class AdminErasureForm(FlaskForm):
    confirm = BooleanField(
        _l("The supporter asked for their data to be erased. Erase it for good."),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class AdminExportForm(FlaskForm):
    """One button: email the supporter their data."""
