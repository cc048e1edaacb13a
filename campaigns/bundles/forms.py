"""Asking for a delivery bundle."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import InputRequired


class BundleForm(FlaskForm):
    campaign_target_id = SelectField(_l("Target"), coerce=int,
                                     validators=[InputRequired(_l("Choose a target."))])

    def __init__(self, campaign, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.campaign_target_id.choices = [(link.id, link.target.name) for link in campaign.targets]


class DeleteBundleForm(FlaskForm):
    """A button: delete a delivered bundle and the names in it."""
