"""The ISO 3166-1 country list, with names in the reader's language."""
from __future__ import annotations

from functools import lru_cache

import pycountry
from babel import Locale
from flask_babel import get_locale

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
