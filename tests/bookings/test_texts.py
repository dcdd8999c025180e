"""The catalogues: both languages hold every key that templates and code use."""

import re
from pathlib import Path

import jinja2
from jinja2.ext import extract_from_ast

import yizhan.bookings
from yizhan.bookings import texts
from yizhan.bookings.models import OPINION_CATEGORIES, OPINION_STATUSES, SESSION_KINDS
from yizhan.bookings.web.render import TEMPLATES_DIR

PACKAGE = Path(yizhan.bookings.__file__).parent
ERROR_CLASSES = "InvalidInput|Conflict|NotFound|RateLimited|PeerUnavailable|BookingError"


def _keys(lang: texts.Lang) -> dict[str, str]:
    catalog = texts.catalogue(lang)._catalog
    return {str(key): str(value) for key, value in catalog.items() if key}


def test_both_catalogues_hold_the_same_keys_and_translate_them() -> None:
    zh, en = _keys("zh"), _keys("en")
    assert set(zh) == set(en)
    assert len(zh) > 100
    assert all(value.strip() for value in (*zh.values(), *en.values()))
    # Fields in braces are the same in both, so that format() fills either.
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def _template_keys() -> set[str]:
    env = jinja2.Environment(autoescape=True)
    keys = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        ast = env.parse(template.read_text())
        for _, _, message in extract_from_ast(ast, gettext_functions=("_",), babel_style=False):
            key = message[0] if isinstance(message, tuple) else message
            assert isinstance(key, str), template
            keys.add(key)
    return keys


def _code_keys() -> set[str]:
    keys = set()
    pattern = re.compile(rf'(?:{ERROR_CLASSES})\(\s*"([a-z_]+)"')
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        keys |= {f"error.{key}" for key in pattern.findall(text)}
        keys |= {f"error.{key}" for key in re.findall(r'errors\.add\(\s*"[\w-]+",\s*"(\w+)"', text)}
        keys |= set(re.findall(r'"((?:form|sms|checkin)\.\w+)"', text))
        keys |= {f"sms.{key}" for key in re.findall(r'texts\.sms\(\s*"(\w+)"', text)}
    return keys


def test_every_key_used_is_in_the_catalogues() -> None:
    used = _template_keys() | _code_keys()
    used |= {f"kind.{k}" for k in (*SESSION_KINDS, "livestream")}
    used |= {f"category.{c}" for c in OPINION_CATEGORIES}
    used |= {f"opinion_status.{s}" for s in OPINION_STATUSES}
    used |= {f"status.{s}" for s in ("confirmed", "waitlisted", "cancelled", "no_show")}
    assert len(used) > 80
    missing = used - set(_keys("zh"))
    assert not missing, sorted(missing)


def test_texts_fill_their_fields_and_dates_follow_the_language() -> None:
    from datetime import date

    assert texts.sms("otp", code="123456", minutes=5).startswith("【驿站预约】验证码 123456")
    assert texts.message("slot_taken", "en") == "this slot is already taken"
    assert texts.text("form.seats_left", "zh", count=3) == "剩 3 个座位"
    monday = date(2026, 11, 23)
    assert texts.day_label(monday, "zh") == "11月23日周一"
    assert texts.day_label(monday, "en") == "Mon 23 Nov"
    assert texts.day_label(monday, "zh", today=monday).endswith("（今天）")
    assert texts.as_lang("en") == "en"
    assert texts.as_lang("fr") == "zh"
