"""The worker consultation form. It asks for organisations, never for workers' names."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from campaigns.consultations.models import REQUESTER_KIND_LABELS, RequesterKind
from campaigns.core.countries import country_choices
from campaigns.core.db import utcnow
from campaigns.signatures.forms import known_country

#: the help text repeated on the form: the record must never identify a worker
NO_NAMES = _l("Do not write any worker's name here, nor anything else that identifies a "
              "worker: name organisations only.")


class ConsultationForm(FlaskForm):
    requester_kind = SelectField(_l("Who asked for the campaign"), choices=[
        SelectChoice(kind.value, REQUESTER_KIND_LABELS[kind]) for kind in RequesterKind],
        validators=[DataRequired()])
    requester_organisation = StringField(_l("Their organisation"), validators=[
        DataRequired(_l("Name the union or the workers' representative body.")), Length(max=200)])
    country = SelectField(_l("Country of the workers"), validate_choice=False,
                          validators=[DataRequired(_l("Choose the country.")), known_country])
    consulted_on = DateField(_l("Date of the consultation"),
                             validators=[DataRequired(_l("Enter the date of the consultation."))])
    approved_demands = BooleanField(_l("They approved the demands"))
    approved_naming_factory = BooleanField(_l("They approved naming the factory in public"))
    approved_timing = BooleanField(_l("They approved the timing"))
    approval_notes = TextAreaField(_l("Notes on what they approved, or its limits"),
                                   validators=[Length(max=5000)], render_kw={"rows": 3})
    retaliation_risks = TextAreaField(_l("Known retaliation risks"), validators=[
        DataRequired(_l("Describe the known risks of retaliation, or write that none are known.")),
        Length(max=5000)], render_kw={"rows": 4})
    valid_until = DateField(_l("Valid until"), validators=[
        DataRequired(_l("Enter the last day on which this approval holds."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose the country"))] + country_choices()

    def validate_consulted_on(self, field):
        if field.data and field.data > utcnow().date():
            raise ValidationError(_l("The consultation cannot be in the future."))

    def validate_valid_until(self, field):
        if field.data and self.consulted_on.data and field.data < self.consulted_on.data:
            raise ValidationError(_l("It cannot end before the consultation took place."))

    def validate_approved_demands(self, field):
        if not field.data:
            raise ValidationError(_l("A campaign needs the workers' approval of its demands."))
