"""What every management page shares: the signed-in operator allowed to write, refusals,
and stations' field errors turned into the form's (in zh or en). Pages render through
yizhan.console.templating (kind "manage" for the nav).
Cross-site posts are refused for every form by yizhan.common.csrf (issue 9's middleware)."""

from collections.abc import Callable, Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.i18n import TEXTS, translator
from yizhan.console.peers.stations import AdminReply
from yizhan.console.session import cookie_operator, request_lang

REFUSALS = {"read_only": 403, "out_of_scope": 403, "station_not_found": 404, "unauthorized": 401}


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
