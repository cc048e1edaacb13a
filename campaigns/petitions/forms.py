"""Workspace forms for campaigns: content, targets and asks, lifecycle moves, preview."""
from __future__ import annotations

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from flask_wtf.file import FileField
from wtforms import (
    BooleanField, DateField, FieldList, Form, FormField, HiddenField, IntegerField,
    SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from campaigns.petitions.models import CAMPAIGN_LANGUAGES, STATUS_LABELS, CampaignStatus

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: empty target rows offered below the chosen ones (no script needed to add one)
SPARE_TARGET_ROWS = 2
MAX_ASK_LENGTH = 2000


class TargetAskForm(Form):
    """One target of the campaign and what it is asked to do (a row of CampaignForm)."""

    target = SelectField(_l("Target"), coerce=int, default=0, validate_choice=False)
    ask = TextAreaField(_l("What we ask of this target (Markdown)"), render_kw={"rows": 3})


def language_choices() -> list[tuple[str, str]]:
    reader = get_locale() or Locale("en")
    return [(code, Locale.parse(code).get_display_name(reader) or code) for code in CAMPAIGN_LANGUAGES]


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the campaign a title.")),
                                                 Length(max=200)])
    slug = StringField(_l("Web address"), validators=[
        DataRequired(_l("Choose a web address.")), Length(max=80),
        Regexp(SLUG, message=_l("Use lower-case letters, digits and hyphens, e.g. reinstate-harbor-leaders."))])
    summary = TextAreaField(_l("Summary"), validators=[DataRequired(_l("Write a short summary.")),
                                                       Length(max=500)], render_kw={"rows": 3})
    story = TextAreaField(_l("Story (Markdown)"), validators=[Length(max=50_000)],
                          render_kw={"rows": 14, "data-preview-source": "story"})
    image = FileField(_l("Image (PNG, JPEG or WebP)"), render_kw={"accept": "image/png,image/jpeg,image/webp"})
    image_alt = StringField(_l("Image description"), validators=[Length(max=300)])
    goal = IntegerField(_l("Signature goal"), default=1000, validators=[
        InputRequired(_l("Set a goal.")), NumberRange(min=1, max=100_000_000)],
        render_kw={"inputmode": "numeric"})
    deadline = DateField(_l("Last day to sign"), validators=[Optional()])
    targets = FieldList(FormField(TargetAskForm), label=_l("Targets and asks"), min_entries=1)
    languages = SelectMultipleField(_l("Languages"), default=["en"], validators=[
        DataRequired(_l("Choose at least one language."))])
    urgent = BooleanField(_l("Urgent appeal"))
    risk_flag = BooleanField(_l("Workers could face retaliation: hide every public list of names"))
    proof_of_work = BooleanField(_l("Under attack: make browsers solve a small puzzle before signing "
                                    "(no third party involved; signing takes a few seconds longer)"))
    organisation_id = SelectField(_l("Organisation running the campaign"), coerce=int, default=0)
    preview = SubmitField(_l("Preview the story"))
    save = SubmitField(_l("Save"))

    def __init__(self, *args, target_choices=(), organisation_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.languages.choices = language_choices()
        choices = [(0, "—")] + list(target_choices)
        while len(self.targets.entries) < len([e for e in self.targets.entries
                                               if e.form.target.data]) + SPARE_TARGET_ROWS:
            self.targets.append_entry()
        for entry in self.targets.entries:
            entry.form.target.choices = choices
        if organisation_choices is None:
            del self.organisation_id
        else:
            self.organisation_id.choices = [(0, _l("None: only admins and unaffiliated campaigners"))] \
                + list(organisation_choices)

    def validate_targets(self, field):
        known = {value for value, _label in field.entries[0].form.target.choices} if field.entries else set()
        seen = set()
        for entry in field.entries:
            target_id, ask = entry.form.target.data or 0, (entry.form.ask.data or "").strip()
            if not target_id and not ask:
                continue
            if target_id not in known or not target_id:
                raise ValidationError(_l("Choose a target from the registry for every ask."))
            if target_id in seen:
                raise ValidationError(_l("Each target can be chosen once."))
            if not ask:
                raise ValidationError(_l("Write what the campaign asks of each target."))
            if len(ask) > MAX_ASK_LENGTH:
                raise ValidationError(_l("An ask can be at most %(n)s characters.", n=MAX_ASK_LENGTH))
            seen.add(target_id)

    def validate_image_alt(self, field):
        if self.image.data and not (field.data or "").strip():
            raise ValidationError(_l("Describe the image for people who cannot see it."))

    def chosen_targets(self) -> list[tuple[int, str]]:
        return [(entry.form.target.data, entry.form.ask.data.strip()) for entry in self.targets.entries
                if entry.form.target.data]


class StatusForm(FlaskForm):
    status = SelectField(_l("New state"), choices=[SelectChoice(s.value, STATUS_LABELS[s]) for s in CampaignStatus],
                         validators=[DataRequired()])
    note = StringField(_l("Note for the audit log (optional)"), validators=[Length(max=300)])


class PreviewForm(FlaskForm):
    """The live preview's request: the Markdown to render (CSRF-protected like any form)."""

    text = HiddenField(validators=[Length(max=50_000)])
