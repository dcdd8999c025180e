"""The broker's HTTP authentication and authorization hook (EMQX 5 request and answer
format; rules in broker/hook.py). Not an operator API: the broker calls it with a shared
secret header, and the Ingress never routes `/internal/` (deploy/k8s/)."""

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel, ConfigDict

from yizhan.stations.api.deps import DepsDep, SessionDep
from yizhan.stations.broker import hook
from yizhan.stations.context import Deps

router = APIRouter(prefix="/internal/broker", include_in_schema=False)
HOOK_HEADER = "X-Yizhan-Broker-Secret"


class AuthnRequest(BaseModel):
    """What EMQX sends at CONNECT (its body template in deploy/k8s/broker/)."""

    model_config = ConfigDict(extra="ignore")
    username: str = ""
    password: str = ""
    clientid: str = ""


class AuthzRequest(BaseModel):
    """What EMQX sends at PUBLISH and SUBSCRIBE."""

    model_config = ConfigDict(extra="ignore")
    username: str = ""
    clientid: str = ""
    topic: str
    action: str


class Verdict(BaseModel):
    """EMQX's answer format: `allow` or `deny` (never superuser)."""

    result: Literal["allow", "deny"]
    is_superuser: bool = False


def _verdict(allowed: bool) -> Verdict:
    return Verdict(result="allow" if allowed else "deny")


def _check_caller(deps: Deps, secret: str | None) -> None:
    """404 while the hook is off; 401 without the shared secret (EMQX reads any answer but
    200/204 as "ignore", which the broker's configuration turns into a refusal)."""
    expected = deps.settings.broker_hook_secret
    if expected is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="broker hook not enabled")
    if secret is None or not hmac.compare_digest(
        secret.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong broker secret")


def _service_login(deps: Deps, username: str) -> hook.ServiceLogin | None:
    """The ingest's account of that name (one per replica when YZ_STATIONS_TELEMETRY_MQTT_
    REPLICAS > 1, as the dynsec path makes them), when telemetry's password is set."""
    settings = deps.settings
    if settings.telemetry_mqtt_password is None:
        return None
    for account, client_id in settings.telemetry_accounts():
        if account == username:
            password = settings.telemetry_mqtt_password.get_secret_value()
            return hook.ServiceLogin(account, password, client_id)
    return None


SecretHeader = Annotated[str | None, Header(alias=HOOK_HEADER)]


@router.post("/authenticate")
async def authenticate(
    body: AuthnRequest, deps: DepsDep, session: SessionDep, secret: SecretHeader = None
) -> Verdict:
    """May this client connect (username, password, client id)?"""
    _check_caller(deps, secret)
    allowed = await hook.authenticate(
        session,
        username=body.username,
        password=body.password,
        client_id=body.clientid,
        device_key=deps.settings.device_key.get_secret_value(),
        service=_service_login(deps, body.username),
    )
    return _verdict(allowed)


@router.post("/authorize")
async def authorize(
    body: AuthzRequest, deps: DepsDep, session: SessionDep, secret: SecretHeader = None
) -> Verdict:
    """May this client publish to, or subscribe to, this topic?"""
    _check_caller(deps, secret)
    allowed = await hook.authorize(
        session,
        username=body.username,
        client_id=body.clientid,
        topic=body.topic,
        action=body.action,
        service=_service_login(deps, body.username),
    )
    return _verdict(allowed)
