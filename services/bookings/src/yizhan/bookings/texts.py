"""Every text a worker, an operator or a kiosk reads, from the gettext catalogues in
`locale/<lang>/LC_MESSAGES/messages.po` (read with Babel when first needed, no build step).

Msgids are stable keys (`error.slot_taken`, `form.phone_label`, `sms.promoted`), so code and
templates hold no prose and both catalogues, Chinese and English, are complete translations
(tests/bookings/test_texts.py checks that every key used is in both). Texts may carry
`{named}` fields, filled with str.format.

API answers carry the English text; the web form follows the worker's choice (Chinese by
default); SMS go out in Chinese; kiosks get both.
"""

import functools
import io
from datetime import date
from pathlib import Path
from typing import Literal, get_args

from babel import Locale
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)
DEFAULT_LANG: Lang = "zh"
# The `lang` attribute of pages, and the CLDR locale Babel formats dates with.
HTML_LANG: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}
BABEL_LOCALE: dict[Lang, str] = {"zh": "zh_Hans_CN", "en": "en_GB"}

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def as_lang(value: str | None) -> Lang:
    """A supported language from a cookie or query value; the default for anything else."""
    for lang in LANGS:
        if value == lang:
            return lang
    return DEFAULT_LANG


@functools.cache
def catalogue(lang: Lang) -> Translations:
    """The compiled catalogue of a language (read once per process)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        messages = read_po(po, locale=BABEL_LOCALE[lang], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def text(key: str, lang: Lang = DEFAULT_LANG, **fields: object) -> str:
    """The text of `key` in `lang` (Chinese, then the key itself, when missing there)."""
    found = catalogue(lang).gettext(key)
    if found == key and lang != DEFAULT_LANG:
        found = catalogue(DEFAULT_LANG).gettext(key)
    return found.format(**fields) if fields else found


def message(key: str, lang: Lang = DEFAULT_LANG) -> str:
    """The text of an error a user can cause (errors.py keys)."""
    return text(f"error.{key}", lang)


def checkin_message(key: str) -> tuple[str, str]:
    """The (zh, en) answer shown at the kiosk for a check-in outcome."""
    return text(f"checkin.{key}", "zh"), text(f"checkin.{key}", "en")


def sms(key: str, **fields: object) -> str:
    """An SMS text (sent in Chinese, the language every worker's phone reads)."""
    return text(f"sms.{key}", "zh", **fields)


def day_label(day: date, lang: Lang, today: date | None = None) -> str:
    """11月23日周一 / Mon 23 Nov, marked as today when it is."""
    label = _skeleton_label(day, lang)
    return text("form.today", lang, label=label) if day == today else label


@functools.lru_cache(maxsize=1024)
def _skeleton_label(day: date, lang: Lang) -> str:
    # Remembered: Babel matches the skeleton to a pattern on every call, and every booking's
    # SMS and every slot page names a day.
    return format_skeleton("MMMEd", day, locale=Locale.parse(BABEL_LOCALE[lang]))
