"""Operator accounts in the console (issue 14): admins list, create and change accounts (role,
districts, disable, reset a password); everyone changes their own password on "my account".
Stations does the work over gRPC OperatorAdmin with the operators API's rules (CONTRACT §3:
admins only, except one's own account), field errors and audit; the console renders forms.
Cross-site posts are refused by yizhan.common.csrf, as for every console form."""

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import ROLES, Operator
from yizhan.common.clients import client_address
from yizhan.console.i18n import translator
from yizhan.console.peers.operators import AdminReply, OperatorAccounts
from yizhan.console.session import COOKIE, cookie_operator, request_lang, set_session_cookie
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep

router = APIRouter(prefix="/console", include_in_schema=False)
# Refusals stations may answer with, as the page's status.
_REFUSALS = {"unauthorized": 401, "admin_only": 403, "operator_not_found": 404}
# Stations' problem codes that are one field's error.
_FIELD_CODES = {"operator_exists": ("username", 409), "last_admin": ("role", 409)}


def _context(
    request: Request, operator: Operator, kind: str = "operators", **values: Any
) -> dict[str, Any]:
    return page_context(request, operator, kind, roles=ROLES, **values)


def _districts(text: str) -> list[str]:
    """Districts typed as a list separated by commas (ASCII or Chinese) or new lines."""
    for separator in ("，", "、", "\n"):
        text = text.replace(separator, ",")
    return [d.strip() for d in text.split(",") if d.strip()]


# Stations' rules in its (English) words, and the key of the page's own words for each.
_RULE_TEXTS = (
    ("too weak a password", "error_password_weak"),
    ("at least 8 characters", "error_password_short"),
    ("at least one district", "error_district_needed"),
    ("an admin sees every district", "error_admin_districts"),
    ("should match pattern", "error_username_pattern"),
    ("Input should be 'admin'", "error_role"),
)


def _in_words(t: Callable[..., str], message: str) -> str:
    """A field error in the page's language; stations' own text when no rule matches."""
    key = next((key for rule, key in _RULE_TEXTS if rule in message), None)
    return message if key is None else t(key)


def _field_errors(request: Request, reply: AdminReply) -> tuple[dict[str, str], int]:
    """Each field's error (by the form's field names, in the page's words), and the status."""
    t = translator(request_lang(request))
    if reply.code in _FIELD_CODES:
        field, status = _FIELD_CODES[reply.code]
        return {field: t(f"operator_{reply.code}")}, status
    errors: dict[str, str] = {}
    for error in reply.errors:
        errors.setdefault(error.field.split(".")[0], _in_words(t, error.message))
    return errors, 422


async def _signed_in(request: Request) -> Operator | Response:
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    return operator


async def _admin(request: Request) -> Operator | Response:
    """The signed-in admin, or the answer to give instead (login, or 403)."""
    operator = await _signed_in(request)
    if isinstance(operator, Operator) and operator.role != "admin":
        return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=403)
    return operator


def _refused(request: Request, reply: AdminReply) -> Response | None:
    if reply.code == "unauthorized":
        return RedirectResponse("/console/login", status_code=303)
    status = _REFUSALS.get(reply.code)
    if status is None:
        return None
    return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=status)


def _account(reply: AdminReply) -> dict[str, Any]:
    account: dict[str, Any] = json.loads(reply.result_json)
    return account


@router.get("/operators", response_class=HTMLResponse)
async def list_operators(request: Request, console: ConsoleDep) -> Response:
    """Every operator account, with a link to change each."""
    gate = await _admin(request)
    if isinstance(gate, Response):
        return gate
    reply = await console.operators.list(request.cookies[COOKIE])
    refused = _refused(request, reply)
    if refused is not None:
        return refused
    items = _account(reply)["items"]
    notice = request.query_params.get("done")
    return templates.TemplateResponse(
        request, "operators.html", _context(request, gate, items=items, notice=notice)
    )


def _new_form(
    request: Request,
    operator: Operator,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> Response:
    return templates.TemplateResponse(
        request,
        "operator_new.html",
        _context(request, operator, values=values, errors=errors),
        status_code=status,
    )


@router.get("/operators/new", response_class=HTMLResponse)
async def new_operator(request: Request) -> Response:
    """The empty account form."""
    gate = await _admin(request)
    if isinstance(gate, Response):
        return gate
    values = {"username": "", "role": "district", "districts": ""}
    return _new_form(request, gate, values, {}, 200)


@router.post("/operators", response_class=HTMLResponse)
async def create_operator(request: Request, console: ConsoleDep) -> Response:
    """Create the account, or show the form again with each field's error."""
    gate = await _admin(request)
    if isinstance(gate, Response):
        return gate
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("username", "role", "districts")}
    body = {
        "username": values["username"],
        "password": str(form.get("password", "")),
        "role": values["role"],
        "districts": _districts(values["districts"]),
    }
    reply = await console.operators.create(request.cookies[COOKIE], body)
    refused = _refused(request, reply)
    if refused is not None:
        return refused
    if reply.code:
        errors, status = _field_errors(request, reply)
        return _new_form(request, gate, values, errors, status)
    return RedirectResponse("/console/operators?done=created", status_code=303)


async def _edit_page(
    request: Request,
    operator: Operator,
    accounts: OperatorAccounts,
    username: str,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    reply = await accounts.get(request.cookies[COOKIE], username)
    refused = _refused(request, reply)
    if refused is not None:
        return refused
    account = _account(reply)
    shown = values or {"role": account["role"], "districts": "，".join(account["districts"])}
    return templates.TemplateResponse(
        request,
        "operator_edit.html",
        _context(
            request,
            operator,
            account=account,
            values=shown,
            errors=errors or {},
            notice=request.query_params.get("done"),
        ),
        status_code=status,
    )


@router.get("/operators/{username}", response_class=HTMLResponse)
async def edit_operator(request: Request, username: str, console: ConsoleDep) -> Response:
    """One account: its role and districts, disable or enable it, reset its password."""
    gate = await _admin(request)
    if isinstance(gate, Response):
        return gate
    return await _edit_page(request, gate, console.operators, username)


async def _change(
    request: Request,
    console: ConsoleDep,
    username: str,
    body: dict[str, Any],
    done: str,
    values: dict[str, str] | None = None,
) -> Response:
    gate = await _admin(request)
    if isinstance(gate, Response):
        return gate
    reply = await console.operators.update(request.cookies[COOKIE], username, body)
    refused = _refused(request, reply)
    if refused is not None:
        return refused
    if reply.code:
        errors, status = _field_errors(request, reply)
        return await _edit_page(request, gate, console.operators, username, errors, values, status)
    return RedirectResponse(f"/console/operators/{username}?done={done}", status_code=303)


@router.post("/operators/{username}/role", response_class=HTMLResponse)
async def change_role(request: Request, username: str, console: ConsoleDep) -> Response:
    """A new role and districts (they reach the operator's next request)."""
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("role", "districts")}
    body = {"role": values["role"], "districts": _districts(values["districts"])}
    return await _change(request, console, username, body, "role", values)


@router.post("/operators/{username}/disabled", response_class=HTMLResponse)
async def set_disabled(request: Request, username: str, console: ConsoleDep) -> Response:
    """Disable the account (its sessions and tokens end at once) or enable it again."""
    form = await request.form()
    disabled = form.get("disabled") == "1"
    return await _change(
        request, console, username, {"disabled": disabled}, "disabled" if disabled else "enabled"
    )


@router.post("/operators/{username}/password", response_class=HTMLResponse)
async def reset_password(request: Request, username: str, console: ConsoleDep) -> Response:
    """A new password set by an admin (the operator's older tokens end)."""
    form = await request.form()
    body = {"password": str(form.get("password", ""))}
    return await _change(request, console, username, body, "password")


async def _account_page(
    request: Request,
    operator: Operator,
    console: ConsoleDep,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    reply = await console.operators.get(request.cookies[COOKIE], operator.username)
    refused = _refused(request, reply)
    if refused is not None:
        return refused
    return templates.TemplateResponse(
        request,
        "my_account.html",
        _context(
            request,
            operator,
            kind="account",
            account=_account(reply),
            errors=errors or {},
            notice=request.query_params.get("done"),
        ),
        status_code=status,
    )


@router.get("/account", response_class=HTMLResponse)
async def my_account(request: Request, console: ConsoleDep) -> Response:
    """Who one is (role, districts) and the form to change one's own password."""
    gate = await _signed_in(request)
    if isinstance(gate, Response):
        return gate
    return await _account_page(request, gate, console)


@router.post("/account/password", response_class=HTMLResponse)
async def change_my_password(request: Request, console: ConsoleDep) -> Response:
    """Change one's own password (the current one asked again); the session goes on with a
    new token, since the new password ends every older one."""
    gate = await _signed_in(request)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    current, new = str(form.get("current_password", "")), str(form.get("password", ""))
    if new != str(form.get("password_again", "")):
        return await _account_page(
            request, gate, console, {"password_again": t("passwords_differ")}, 422
        )
    body = {"password": new, "current_password": current}
    reply = await console.operators.update(request.cookies[COOKIE], gate.username, body)
    refused = _refused(request, reply)
    if refused is not None:
        return refused
    if reply.code:
        errors, status = _field_errors(request, reply)
        if "current_password" in errors:
            errors["current_password"] = t("wrong_current_password")
        return await _account_page(request, gate, console, errors, status)
    verdict = await console.directory.login(gate.username, new, client_address(request))
    if not verdict.token:
        # Changed, but no new session (a login limit): sign in again with the new password.
        return RedirectResponse("/console/login", status_code=303)
    response = RedirectResponse("/console/account?done=password", status_code=303)
    set_session_cookie(response, verdict.token, verdict.expires_in_seconds)
    return response
