from datetime import timedelta

import pytest

from yizhan.common.auth import InvalidToken, Operator, decode_token, issue_token

pytestmark = pytest.mark.unit

SECRET = "test-secret-test-secret-test-secret-0"


def test_token_round_trip_keeps_role_and_districts() -> None:
    operator = Operator("li", "district", ("南岸区",))
    token = issue_token(SECRET, operator, timedelta(minutes=5))
    assert decode_token(SECRET, token) == operator


def test_expired_token_is_refused() -> None:
    token = issue_token(SECRET, Operator("li", "admin"), timedelta(seconds=-1))
    with pytest.raises(InvalidToken):
        decode_token(SECRET, token)


def test_token_signed_with_another_key_is_refused() -> None:
    token = issue_token("another-secret-another-secret-000", Operator("li", "admin"), timedelta(1))
    with pytest.raises(InvalidToken):
        decode_token(SECRET, token)


def test_scope_rules() -> None:
    district = Operator("a", "district", ("渝中区",))
    assert district.can_see_district("渝中区")
    assert not district.can_see_district("南岸区")
    assert district.can_write
    assert not Operator("v", "viewer").can_write
    assert Operator("v", "viewer").can_see_district("南岸区")
    assert Operator("x", "admin").can_see_district("anything")
