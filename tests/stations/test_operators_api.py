"""The operators API (CONTRACT §3, issue 14) on a real stations service: admins create,
list and change accounts with field-level 422s; everyone reads itself and changes its own
password; every change is audited and reaches older tokens on their next request."""

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from tests.stations.conftest import ADMIN_PASSWORD, create_operator, login
from tests.support.services import RunningService, run_service
from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration

STRONG = "lantern-river-copper-7"
OTHER_STRONG = "quiet-harbour-basalt-42"


def _name(prefix: str) -> str:
    return f"t-ops-{prefix}-{uuid.uuid4().hex[:6]}"


def _as(stations: RunningService, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stations.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _first_admin(stations: RunningService, database: str) -> str:
    create_operator(database, "admin", ADMIN_PASSWORD, "admin")
    return login(stations, "admin", ADMIN_PASSWORD)


def _fields(reply: httpx.Response) -> dict[str, str]:
    assert reply.status_code == 422, reply.text
    return {e["field"]: e["message"] for e in reply.json()["errors"]}


def _create(admin: httpx.Client, username: str, role: str, districts: list[str]) -> None:
    body = {"username": username, "password": STRONG, "role": role, "districts": districts}
    reply = admin.post("/api/v1/operators", json=body)
    assert reply.status_code == 201, reply.text


def test_admin_creates_operators_with_field_errors(admin: httpx.Client) -> None:
    username = _name("new")
    body = {"username": username, "password": STRONG, "role": "district", "districts": ["南岸区"]}
    bad = admin.post(
        "/api/v1/operators",
        json={**body, "password": "password1", "role": "boss", "username": "no spaces"},
    )
    errors = _fields(bad)
    assert set(errors) == {"body.password", "body.role", "body.username"}
    weak = _fields(admin.post("/api/v1/operators", json={**body, "password": "nanan2026"}))
    assert "too weak a password" in weak["body.password"]
    no_district = _fields(admin.post("/api/v1/operators", json={**body, "districts": []}))
    assert "at least one district" in no_district["body.districts"]

    created = admin.post("/api/v1/operators", json=body)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "username": username,
        "role": "district",
        "districts": ["南岸区"],
        "disabled": False,
    }
    assert admin.post("/api/v1/operators", json=body).json()["code"] == "operator_exists"
    listed = admin.get("/api/v1/operators").json()["items"]
    assert {
        "username": username,
        "role": "district",
        "districts": ["南岸区"],
        "disabled": False,
    } in listed
    audit = admin.get("/api/v1/audit", params={"entity": "operator"}).json()["items"]
    entry = next(e for e in audit if e["entity_id"] == username)
    assert (entry["action"], entry["actor"], entry["before"]) == ("operator.create", "admin", None)
    assert "password" not in str(entry["after"]).lower()


def test_operators_read_themselves_and_change_only_their_password(
    stations: RunningService, admin: httpx.Client
) -> None:
    username, other = _name("self"), _name("other")
    _create(admin, username, "viewer", [])
    _create(admin, other, "viewer", [])
    token = login(stations, username, STRONG)
    with _as(stations, token) as me:
        assert me.get(f"/api/v1/operators/{username}").json()["role"] == "viewer"
        for refused in (
            me.get("/api/v1/operators"),
            me.get(f"/api/v1/operators/{other}"),
            me.post(
                "/api/v1/operators",
                json={"username": _name("x"), "password": STRONG, "role": "admin"},
            ),
            me.patch(f"/api/v1/operators/{username}", json={"role": "admin"}),
            me.patch(f"/api/v1/operators/{other}", json={"password": OTHER_STRONG}),
        ):
            assert (refused.status_code, refused.json()["code"]) == (403, "admin_only")
        wrong = me.patch(
            f"/api/v1/operators/{username}",
            json={"password": OTHER_STRONG, "current_password": "not-my-password"},
        )
        assert "body.current_password" in _fields(wrong)
        changed = me.patch(
            f"/api/v1/operators/{username}",
            json={"password": OTHER_STRONG, "current_password": STRONG},
        )
        assert changed.status_code == 200, changed.text
        # A new password ends every older token, the one that changed it included.
        assert me.get(f"/api/v1/operators/{username}").status_code == 401
    assert login(stations, username, OTHER_STRONG)
    audit = admin.get("/api/v1/audit", params={"entity": "operator"}).json()["items"]
    entry = next(e for e in audit if e["entity_id"] == username and e["actor"] == username)
    assert entry["after"]["password_changed"] is True


def test_disable_ends_tokens_and_role_changes_reach_them(
    stations: RunningService, admin: httpx.Client
) -> None:
    username = _name("roles")
    _create(admin, username, "viewer", [])
    token = login(stations, username, STRONG)
    station_id = f"T-OPS-{uuid.uuid4().hex[:6]}"
    station = {
        "id": station_id,
        "name": {"zh": "驿", "en": "S"},
        "district": "南岸区",
    }
    with _as(stations, token) as old:
        assert old.post("/api/v1/stations", json=station).status_code == 403
        promoted = admin.patch(
            f"/api/v1/operators/{username}", json={"role": "district", "districts": ["南岸区"]}
        )
        assert promoted.status_code == 200, promoted.text
        assert old.post("/api/v1/stations", json=station).status_code == 201
        other = {**station, "id": f"{station_id}b", "district": "渝中区"}
        assert old.post("/api/v1/stations", json=other).status_code == 403

        assert admin.patch(f"/api/v1/operators/{username}", json={"disabled": True}).json()[
            "disabled"
        ]
        assert old.get("/api/v1/stations").status_code == 401
        assert (
            httpx.post(
                f"{stations.base_url}/api/v1/auth/token",
                data={"username": username, "password": STRONG},
            ).status_code
            == 401
        )
        # Enabled again: a new sign-in works, the token from before stays ended.
        assert (
            admin.patch(f"/api/v1/operators/{username}", json={"disabled": False}).status_code
            == 200
        )
        assert old.get("/api/v1/stations").status_code == 401
    assert login(stations, username, STRONG)
    audit = admin.get("/api/v1/audit", params={"entity": "operator"}).json()["items"]
    disabled = [e for e in audit if e["entity_id"] == username and e["after"]["disabled"]]
    assert disabled
    assert disabled[0]["before"]["disabled"] is False


def test_the_last_enabled_admin_stays(new_database: Callable[[str], str], workdir: Path) -> None:
    # Its own registry: the package's shared one holds other tests' admins.
    database = new_database("last_admin")
    with (
        run_service("stations", database, workdir) as stations,
        _as(stations, _first_admin(stations, database)) as admin,
    ):
        deputy = _name("deputy")
        _create(admin, deputy, "admin", [])
        with _as(stations, login(stations, deputy, STRONG)) as client:
            # With another admin left, an admin may step down.
            assert (
                client.patch(f"/api/v1/operators/{deputy}", json={"role": "viewer"}).status_code
                == 200
            )
        enabled_admins = [
            o["username"]
            for o in admin.get("/api/v1/operators").json()["items"]
            if o["role"] == "admin" and not o["disabled"]
        ]
        assert enabled_admins == ["admin"]
        for change in ({"disabled": True}, {"role": "district", "districts": ["南岸区"]}):
            refused = admin.patch("/api/v1/operators/admin", json=change)
            assert (refused.status_code, refused.json()["code"]) == (409, "last_admin")
        assert admin.get("/api/v1/operators/admin").json()["disabled"] is False
        assert (
            admin.patch("/api/v1/operators/nobody-here", json={"disabled": True}).status_code == 404
        )


def test_the_consoles_grpc_calls_follow_the_same_rules(
    stations: RunningService, admin: httpx.Client
) -> None:
    username = _name("rpc")
    _create(admin, username, "viewer", [])
    viewer = login(stations, username, STRONG)
    admin_token = str(admin.headers["Authorization"]).removeprefix("Bearer ")
    stub = stations_pb2_grpc.OperatorAdminStub(
        sync_channel(stations.grpc_address, DEV_SERVICE_TOKEN)
    )

    def call(rpc: str, token: str, target: str = "", **body: object) -> stations_pb2.AdminReply:
        request = stations_pb2.OperatorAdminRequest(
            operator_token=token, username=target, body_json=json.dumps(body)
        )
        reply: stations_pb2.AdminReply = getattr(stub, rpc)(request, timeout=5)
        return reply

    assert call("ListOperators", "not-a-token").code == "unauthorized"
    assert call("ListOperators", viewer).code == "admin_only"
    assert call("CreateOperator", viewer, username="x").code == "admin_only"
    assert call("GetOperator", viewer, "admin").code == "admin_only"
    assert json.loads(call("GetOperator", viewer, username).result_json)["role"] == "viewer"
    invalid = call("CreateOperator", admin_token, username="x y", password="short", role="boss")
    assert invalid.code == "invalid"
    assert {e.field for e in invalid.errors} == {"username", "password", "role"}
    # Judged with the username (stations' own check after the body's): named as in the body.
    same = call("UpdateOperator", admin_token, username, password=f"{username}{username}")
    assert (same.code, [e.field for e in same.errors]) == ("invalid", ["password"])
    assert call("UpdateOperator", admin_token, "no such name", disabled=True).code == (
        "operator_not_found"
    )
    promoted = call("UpdateOperator", admin_token, username, role="district", districts=["江北区"])
    assert json.loads(promoted.result_json)["districts"] == ["江北区"]
    assert call("UpdateOperator", admin_token, username, disabled=True).code == ""
    assert call("GetOperator", viewer, username).code == "unauthorized"
    # What telemetry and bookings ask stations about a token says the same.
    directory = stations_pb2_grpc.StationDirectoryStub(
        sync_channel(stations.grpc_address, DEV_SERVICE_TOKEN)
    )
    scope = directory.CheckOperatorScope(
        stations_pb2.CheckOperatorScopeRequest(token=viewer), timeout=5
    )
    assert (scope.verdict, scope.reason) == (
        stations_pb2.CheckOperatorScopeResponse.UNAUTHENTICATED,
        "the account is disabled",
    )
    with pytest.raises(grpc.RpcError) as missing:
        directory.GetOperatorAccount(
            stations_pb2.GetOperatorAccountRequest(username=username), timeout=5
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
