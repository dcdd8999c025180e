"""The console's one Jinja environment, and what every page's template gets.

Every page module renders through `templates` (so each filter and global is installed once
and every page can use it) and starts its values from `page_context`.
"""

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates

from yizhan.common.auth import Operator
from yizhan.common.html import install_filters
from yizhan.console import assets
from yizhan.console.i18n import LANGS, Lang, translator, value_label
from yizhan.console.session import request_lang

TEMPLATES = Path(__file__).parent / "templates"


@jinja2.pass_context
def _label(context: jinja2.runtime.Context, kind: str, raw: str) -> str:
    """A raw value of another service in the page's language (the page's own `t`)."""
    return value_label(context["t"], kind, raw)


def _console_templates() -> Jinja2Templates:
    made = Jinja2Templates(directory=TEMPLATES)
    # Content-named URLs of the console's own files and ECharts, cached for a year.
    made.env.globals["asset"] = assets.asset_url
    made.env.globals["label"] = _label
    install_filters(made.env)
    return made


templates = _console_templates()


def other_lang(lang: Lang) -> Lang:
    """The language one tap away."""
    return LANGS[1 - LANGS.index(lang)]


def page_context(
    request: Request, operator: Operator | None, kind: str, **values: Any
) -> dict[str, Any]:
    """The values base.html needs (words, language and the other one, who is signed in,
    which page for the nav, where the language switch comes back to), then the page's own
    `values` (which may replace any of them, such as `here` with the page's query)."""
    lang = request_lang(request)
    return {
        "t": translator(lang),
        "lang": lang,
        "other_lang": other_lang(lang),
        "operator": operator,
        "kind": kind,
        "here": request.url.path,
        **values,
    }
