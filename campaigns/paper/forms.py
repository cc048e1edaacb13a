"""Recording a batch of paper signatures."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from campaigns.core.countries import COUNTRY_CODES, country_choices
from campaigns.core.db import utcnow
from campaigns.signatures.forms import strip

#: more than this in one batch is almost certainly a typing mistake
MAX_BATCH = 1_000_000


def not_in_the_future(form: FlaskForm, field: DateField) -> None:
    if field.data and field.data > utcnow().date():
        raise ValidationError(_l("The date cannot be in the future."))


def known_country_or_blank(form: FlaskForm, field: SelectField) -> None:
    if field.data and field.data not in COUNTRY_CODES:
        raise ValidationError(_l("Please choose a country from the list."))


class PaperBatchForm(FlaskForm):
    count = IntegerField(_l("Number of signatures"),
                         validators=[InputRequired(_l("Enter how many signatures.")),
                                     NumberRange(min=1, max=MAX_BATCH,
                                                 message=_l("Enter a number from 1 to 1,000,000."))],
                         render_kw={"inputmode": "numeric"})
    source = StringField(_l("Where they were collected"), filters=[strip],
                         validators=[DataRequired(_l("Say where they were collected.")),
                                     Length(max=200)])
    collected_on = DateField(_l("Date collected"),
                             validators=[DataRequired(_l("Enter the date.")), not_in_the_future])
    country = SelectField(_l("Country (if all from one country)"),
                          validators=[known_country_or_blank], validate_choice=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Several or not recorded"))] + country_choices()


class DeleteBatchForm(FlaskForm):
    """A button: remove a batch recorded by mistake."""
