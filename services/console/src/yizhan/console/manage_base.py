"""What every management page shares: the signed-in operator allowed to write, the page
context, refusals, and stations' field errors turned into the form's (in zh or en).
Cross-site posts are refused for every form by yizhan.common.csrf (issue 9's middleware)."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from yizhan.common.auth import Operator
from yizhan.console.i18n import LANGS, TEXTS, translator
from yizhan.console.peers.stations import AdminReply
from yizhan.console.session import cookie_operator, request_lang

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
REFUSALS = {"read_only": 403, "out_of_scope": 403, "station_not_found": 404, "unauthorized": 401}


def context(request: Request, operator: Operator, **values: Any) -> dict[str, Any]:
    """The values every management template uses."""
    lang = request_lang(request)
    return {
        "t": translator(lang),
        "lang": lang,
        "other_lang": LANGS[1 - LANGS.index(lang)],
        "operator": operator,
        "kind": "manage",
        "here": request.url.path,
        **values,
    }


async def writer(request: Request) -> Operator | Response:
    """The signed-in operator allowed to change things, or the answer to give instead."""
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    if not operator.can_write:
        return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=403)
    return operator


def refused(request: Request, reply: AdminReply) -> Response | None:
    """The page for a refusal (token, role, scope, unknown station), None otherwise."""
    status = REFUSALS.get(reply.code)
    if status is None:
        return None
    return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=status)


def reason(t: Callable[..., str], code: str, message: str) -> str:
    """A reason code in the page's language; a rule's own wording (English, from stations)
    follows where the code alone does not say enough."""
    key = f"reason_{code}"
    if key not in TEXTS:
        return message
    if code in ("value_error", "invalid", "bad_hours"):
        return f"{t(key)}（{message.removeprefix('Value error, ')}）"
    return t(key)


def field_errors(
    t: Callable[..., str], reply: AdminReply, to_form: Callable[[str], str]
) -> dict[str, str]:
    """Stations' errors by form field (the first error of each field)."""
    errors: dict[str, str] = {}
    for error in reply.errors:
        errors.setdefault(to_form(error.field), reason(t, error.code, error.message))
    return errors


def by_top_field(names: Mapping[str, str]) -> Callable[[str], str]:
    """A mapper from stations' JSON paths to form fields: an exact path, else its first part."""

    def to_form(path: str) -> str:
        top = path.split(".")[0]
        return names.get(path, names.get(top, top))

    return to_form
