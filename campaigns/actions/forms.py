"""The write form (built per action: one subject and body per campaign target) and the
campaigner's settings forms."""
from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from campaigns.actions.models import DeliveryMode, EmailAction
from campaigns.core.countries import country_choices
from campaigns.signatures.forms import (
    CONSENT_WORDING,
    URL_LIKE,
    SupporterDetailsForm,
    strip,
)


class WriteForm(SupporterDetailsForm):
    """The supporter's details; ``letter_form_for`` adds a subject and body per target."""

    postcode = StringField(_l("Postcode"), filters=[strip], validators=[Length(max=16)],
                           render_kw={"autocomplete": "postal-code"})
    consent_updates = BooleanField(CONSENT_WORDING)
    #: a trap for bots (see campaigns/signatures/abuse.py)
    website = StringField(_l("Leave this field empty"),
                          render_kw={"autocomplete": "off", "tabindex": "-1"})
    started = HiddenField()
    preview = SubmitField(_l("Preview my letters"))
    send = SubmitField(_l("Send my letters"))
    edit = SubmitField(_l("Change my letters"))

    #: (action_target_id, subject field name, body field name), set by letter_form_for
    letter_fields: list[tuple[int, str, str]] = []
    needs_postcode = False
    max_body_length = 3000
    allow_links = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        from campaigns.signatures.abuse import form_started_token

        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose your country"))] + country_choices()
        if not self.started.data:
            self.started.data = form_started_token()

    def validate_postcode(self, field: StringField) -> None:
        if self.needs_postcode and not field.data:
            raise ValidationError(_l("Enter your postcode: it decides who represents you."))

    def letters(self) -> list[tuple[int, object, object]]:
        return [(at_id, self[subject], self[body]) for at_id, subject, body in self.letter_fields]


def _body_rules(form: WriteForm, field: TextAreaField) -> None:
    text = field.data or ""
    if len(text) > form.max_body_length:
        raise ValidationError(_l("Please keep your letter under %(n)s characters.",
                                 n=form.max_body_length))
    if not form.allow_links and URL_LIKE.search(text):
        raise ValidationError(_l("Please leave web addresses out of your letter."))


def letter_form_for(action: EmailAction, letters: list, **kwargs) -> WriteForm:
    """A WriteForm with a subject choice and a body for each of ``letters`` (ActionTargets)."""

    class ActionWriteForm(WriteForm):
        pass

    fields = []
    for letter in letters:
        subject_name, body_name = f"subject_{letter.id}", f"body_{letter.id}"
        name = letter.campaign_target.target.name
        # each supporter is assigned one of the subjects at random and may pick another,
        # so that the targets do not receive a thousand identical subject lines
        setattr(ActionWriteForm, subject_name, RadioField(
            _l("Subject of your letter to %(target)s", target=name),
            choices=[SelectChoice(str(i), s) for i, s in enumerate(letter.subjects)],
            default=str(secrets.randbelow(len(letter.subjects))) if letter.subjects else "0",
            validators=[DataRequired(_l("Choose a subject."))]))
        setattr(ActionWriteForm, body_name, TextAreaField(
            _l("Your letter to %(target)s", target=name), default=letter.body, filters=[strip],
            validators=[DataRequired(_l("Your letter cannot be empty.")), _body_rules],
            render_kw={"rows": 12, "maxlength": action.max_body_length}))
        fields.append((letter.id, subject_name, body_name))
    ActionWriteForm.letter_fields = fields
    ActionWriteForm.max_body_length = action.max_body_length
    ActionWriteForm.allow_links = action.allow_links
    from campaigns.actions.operations import needs_postcode

    ActionWriteForm.needs_postcode = needs_postcode(action)
    return ActionWriteForm(**kwargs)


class ConfirmForm(FlaskForm):
    """One button: a link scanner's GET is not enough to send letters."""


class SettingsForm(FlaskForm):
    active = BooleanField(_l("Supporters can write now"))
    test_mode = BooleanField(_l("Test mode: letters go to me, not to the targets"))
    max_body_length = IntegerField(_l("Longest letter (characters)"),
                                   validators=[NumberRange(min=200, max=20000)])
    allow_links = BooleanField(_l("Supporters may put web addresses in their letters"))
    reply_to_supporter = BooleanField(_l("Replies go to the supporter (instead of our reply tracking)"))
    max_per_hour = IntegerField(_l("Letters per hour to each contact, at most"),
                                validators=[NumberRange(min=1, max=10000)])
    window_start_hour = IntegerField(_l("Sending starts at (hour, in the contact's time zone)"),
                                     validators=[NumberRange(min=0, max=23)])
    window_end_hour = IntegerField(_l("Sending ends at (hour, in the contact's time zone; 24: midnight)"),
                                   validators=[NumberRange(min=1, max=24)])


class LetterTemplateForm(FlaskForm):
    subjects = TextAreaField(_l("Subject lines (one per line; each supporter picks one)"),
                             validators=[DataRequired(_l("Write at least one subject.")),
                                         Length(max=4000)])
    body = TextAreaField(_l("The letter"), validators=[DataRequired(_l("Write the letter.")),
                                                       Length(max=20000)],
                         render_kw={"rows": 14})
    contact_ids = SelectMultipleField(_l("Who receives it"), coerce=int,
                                      option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))
    delivery = RadioField(_l("Delivery"), choices=[
        SelectChoice(DeliveryMode.EACH.value, _l("One email per letter, paced")),
        SelectChoice(DeliveryMode.DIGEST.value,
                     _l("One email a day with the count and a sample of letters"))],
        default=DeliveryMode.EACH.value)

    def validate_subjects(self, field: TextAreaField) -> None:
        lines = [line.strip() for line in (field.data or "").splitlines() if line.strip()]
        if not lines:
            raise ValidationError(_l("Write at least one subject."))
        if any(len(line) > 200 for line in lines):
            raise ValidationError(_l("Keep each subject under 200 characters."))


class ControlForm(FlaskForm):
    """Pause, resume or cancel: one button each."""
