"""Forms of the replies workspace. Every form carries a CSRF token (Flask-WTF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, DateField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from campaigns.replies.models import CHANNEL_LABELS, GRADE_LABELS
from campaigns.signatures.forms import strip


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), choices=[])
    submit = SubmitField(_l("Change status"))


class DeadlineForm(FlaskForm):
    deadline = DateField(_l("Answer due by"), validators=[DataRequired()])
    submit = SubmitField(_l("Set deadline"))


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Note"), filters=[strip],
                         validators=[DataRequired(), Length(max=5000)], render_kw={"rows": 3})
    public = BooleanField(_l("Show it on the public timeline"))
    submit = SubmitField(_l("Add note"))


class DemandsForm(FlaskForm):
    demands = TextAreaField(_l("Demands, one per line"), filters=[strip],
                            validators=[Length(max=20000)], render_kw={"rows": 6})
    submit = SubmitField(_l("Save demands"))


class LogReplyForm(FlaskForm):
    channel = SelectField(_l("How they answered"),
                          choices=[SelectChoice(k.value, v) for k, v in CHANNEL_LABELS.items()])
    received_on = DateField(_l("Date of the answer"), validators=[DataRequired()])
    sender = StringField(_l("Who answered"), filters=[strip], validators=[Length(max=320)])
    summary = TextAreaField(_l("Summary for the public (Markdown; public only once you publish)"),
                            filters=[strip], validators=[Length(max=20000)], render_kw={"rows": 3})
    text = TextAreaField(_l("Full text or notes"), filters=[strip],
                         validators=[DataRequired(), Length(max=200000)], render_kw={"rows": 10})
    files = MultipleFileField(_l("Attachments (PDF, images, Office documents, text)"))
    submit = SubmitField(_l("Log the reply"))


GRADE_CHOICES = [("", _l("Not graded"))] + [(k.value, v) for k, v in GRADE_LABELS.items()]


class ReviewForm(FlaskForm):
    """Summary and status; the grades per demand are fields named grade-<demand id>."""

    public_summary = TextAreaField(_l("Public summary (Markdown)"), filters=[strip],
                                   validators=[Length(max=20000)], render_kw={"rows": 6})
    status = SelectField(_l("Status of the thread"), choices=[], validate_choice=False)
    commitment = TextAreaField(_l("Commitment made in this reply (leave empty if none)"),
                               filters=[strip], validators=[Optional(), Length(max=5000)],
                               render_kw={"rows": 3})
    save = SubmitField(_l("Save review"))
    publish = SubmitField(_l("Save and publish"))


class VerifyForm(FlaskForm):
    verified_on = DateField(_l("Verified on"), validators=[DataRequired()])
    note = TextAreaField(_l("How it was verified"), filters=[strip],
                         validators=[Length(max=5000)], render_kw={"rows": 3})
    submit = SubmitField(_l("Mark as verified"))


class AssignForm(FlaskForm):
    thread = SelectField(_l("Thread"), choices=[], validate_choice=True)
    submit = SubmitField(_l("Attach to this thread"))


class DiscardForm(FlaskForm):
    submit = SubmitField(_l("Discard"))
