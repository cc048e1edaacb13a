from __future__ import annotations

import ipaddress

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError


def cidr(form, field) -> None:
    if field.data:
        try:
            ipaddress.ip_network(field.data.strip(), strict=False)
        except ValueError:
            raise ValidationError(_l("Enter an address or a range such as 203.0.113.0/24.")) from None


class InvalidationForm(FlaskForm):
    reason = StringField(_l("Why (kept in the audit log)"),
                         validators=[DataRequired(_l("Say why.")), Length(max=200)])
    network = StringField(_l("Address range (CIDR)"), validators=[Optional(), Length(max=64), cidr])
    email_domain = StringField(_l("Email domain (* as a wildcard)"),
                               validators=[Optional(), Length(max=255)])
    campaign_id = SelectField(_l("Campaign"), coerce=int, validators=[Optional()])
    signed_from = DateTimeLocalField(_l("Signed from (UTC)"), validators=[Optional()])
    signed_until = DateTimeLocalField(_l("Signed until (UTC)"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not (self.network.data or self.email_domain.data):
            self.network.errors.append(_l("Give an address range or an email domain (or both)."))
            return False
        return True
