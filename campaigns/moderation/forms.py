"""Approving or hiding a signer's comment."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional

from campaigns.signatures.forms import strip
from campaigns.signatures.models import CommentState


class ModerationForm(FlaskForm):
    decision = RadioField(_l("Decision"), validators=[DataRequired(_l("Choose approve or hide."))])
    reason = StringField(_l("Reason (kept in the audit log)"), filters=[strip],
                         validators=[Optional(), Length(max=300)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.decision.choices = [
            (CommentState.APPROVED.value, _l("Approve: show it on the campaign page")),
            (CommentState.HIDDEN.value, _l("Hide: never show it")),
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.decision.data == CommentState.HIDDEN.value and not self.reason.data:
            self.reason.errors = [*self.reason.errors, _l("Say why the comment is hidden.")]
            return False
        return valid
