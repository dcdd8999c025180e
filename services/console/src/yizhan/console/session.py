"""Who is using the console (the session cookie) and in which language."""

from fastapi import Request, Response

from yizhan.common.auth import InvalidToken, Operator, verify_token
from yizhan.console.i18n import LANG_COOKIE, Lang, pick_lang

COOKIE = "yz_console"
COOKIE_PATH = "/console"


async def cookie_operator(request: Request) -> Operator | None:
    """The operator of a valid session cookie (its account unchanged since), or None."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return await verify_token(request, token)
    except InvalidToken:
        return None


def set_session_cookie(response: Response, token: str, max_age_seconds: int) -> None:
    """Keep the operator's token in the session cookie (never readable by scripts)."""
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", path=COOKIE_PATH, max_age=max_age_seconds
    )


def request_lang(request: Request) -> Lang:
    """`?lang=` when given (links and exports), else the cookie, else Chinese."""
    return pick_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def safe_next(target: str | None) -> str:
    """A console path to go back to; anything else (another site) becomes the overview."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/"
