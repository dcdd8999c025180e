"""Rendering the form's pages in the worker's language: Chinese unless they tapped English
(remembered in a cookie), with every text from the catalogues (texts.py)."""

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from yizhan.bookings import texts
from yizhan.bookings.texts import Lang
from yizhan.bookings.web.forms import FieldErrors

TEMPLATES_DIR = Path(__file__).parent / "templates"
LANG_COOKIE = "yz_lang"


def build_templates() -> Jinja2Templates:
    """The form's Jinja2 templates, escaping everything by default."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=env)


def request_lang(request: Request) -> Lang:
    """The worker's language: the cookie set by the switch, else Chinese."""
    return texts.as_lang(request.cookies.get(LANG_COOKIE))


def switch_url(lang: Lang, back_to: str) -> str:
    """The link of the language switch: the other language, then back to `back_to`."""
    other: Lang = "en" if lang == "zh" else "zh"
    return f"/lang/{other}?" + urlencode({"next": back_to})


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
    *,
    back_to: str | None = None,
) -> Response:
    """A page in the request's language; `back_to` is where the language switch returns
    (the page itself for GETs, a GET-able page for answers to POSTs)."""
    lang = request_lang(request)
    if back_to is None:
        back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    full: dict[str, Any] = {
        "_": functools.partial(texts.text, lang=lang),
        "lang": lang,
        "html_lang": texts.HTML_LANG[lang],
        "switch_url": switch_url(lang, back_to),
        "dev": request.app.state.deps.settings.exposes_dev_tools,
        "errors": FieldErrors(lang),
        "notice": None,
    }
    full.update(context)
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    # Pages carry phone numbers and manage tokens: never keep them in shared caches.
    response.headers["Cache-Control"] = "no-store"
    return response
