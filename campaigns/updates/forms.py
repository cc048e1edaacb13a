"""The update editor and its buttons."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from campaigns.signatures.forms import CONTROL_CHARACTERS, strip


def one_line(form: FlaskForm, field: StringField) -> None:
    from wtforms.validators import ValidationError

    if CONTROL_CHARACTERS.search(field.data or ""):
        raise ValidationError(_l("Please write the subject on one line."))


class UpdateForm(FlaskForm):
    subject = StringField(_l("Subject"), filters=[strip],
                          validators=[DataRequired(_l("Write a subject.")), Length(max=200), one_line])
    body = TextAreaField(_l("Message"), filters=[strip],
                         validators=[DataRequired(_l("Write the message.")), Length(max=20000)],
                         render_kw={"rows": 14})
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save draft"))


class SendTestForm(FlaskForm):
    """Send the draft to oneself."""


class SendForm(FlaskForm):
    """Send the update to every consenting signer: one button, after the preview."""
