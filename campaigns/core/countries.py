"""The ISO 3166-1 country list, with names in the reader's language."""
from __future__ import annotations

from functools import lru_cache

import pycountry
from babel import Locale
from flask_babel import get_locale
from markupsafe import Markup
from wtforms.widgets import Select, html_params

COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)


@lru_cache(maxsize=32)
def _choices(locale: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).territories
    pairs = [(c.alpha_2, names.get(c.alpha_2, c.name)) for c in pycountry.countries]
    return tuple(sorted(pairs, key=lambda pair: pair[1].casefold()))


def country_choices() -> list[tuple[str, str]]:
    return list(_choices(str(get_locale() or "en")))


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return dict(_choices(str(get_locale() or "en"))).get(code, code)


@lru_cache(maxsize=32)
def _options_html(locale: str, placeholder: str) -> Markup:
    options = [Markup('<option selected value="">{}</option>').format(placeholder)]
    options += [Markup('<option value="{}">{}</option>').format(code, name)
                for code, name in _choices(locale)]
    return Markup("").join(options)


class CountrySelect(Select):
    """The ~250-option country list, drawn once per language and reused.

    Drawing it through WTForms on every view was half of a campaign page's CPU time
    (bench/RESULTS.md, B6). A form coming back with a country chosen is drawn as usual,
    so the choice stays selected.
    """

    def __call__(self, field, **kwargs):
        if field.data:
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        if field.flags.required:
            kwargs.setdefault("required", True)
        placeholder = str(field.choices[0][1]) if field.choices else ""
        options = _options_html(str(get_locale() or "en"), placeholder)
        # bandit B704: html_params escapes every attribute value, as WTForms' own Select does
        attributes = Markup(html_params(name=field.name, **kwargs))  # nosec B704
        return Markup("<select {}>{}</select>").format(attributes, options)
