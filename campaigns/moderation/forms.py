"""Approving or hiding a signer's comment."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional

from campaigns.signatures.forms import strip
from campaigns.signatures.models import CommentState

DECISIONS = [(CommentState.APPROVED.value, _l("Approve: show it on the campaign page")),
             (CommentState.HIDDEN.value, _l("Hide: never show it"))]


class ModerationForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=DECISIONS,
                          validators=[DataRequired(_l("Choose approve or hide."))])
    reason = StringField(_l("Reason (kept in the audit log)"), filters=[strip],
                         validators=[Optional(), Length(max=300)])

    def validate_reason(self, field: StringField) -> None:
        from wtforms.validators import ValidationError

        if self.decision.data == CommentState.HIDDEN.value and not field.data:
            raise ValidationError(_l("Say why the comment is hidden."))
