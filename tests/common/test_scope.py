"""The one scope authority: who sees which station, district and the network."""

from dataclasses import dataclass

import pytest

from yizhan.common import scope
from yizhan.common.auth import Operator

pytestmark = pytest.mark.unit

ADMIN = Operator("a", "admin")
CITY_VIEWER = Operator("v", "viewer")
NANAN = Operator("n", "district", ("南岸区",))
NANAN_VIEWER = Operator("nv", "viewer", ("南岸区",))


@dataclass(frozen=True)
class Station:
    id: str
    district: str


def test_a_station_outside_ones_districts_is_as_absent_as_an_unknown_one() -> None:
    here, there = Station("A", "南岸区"), Station("B", "渝中区")
    assert scope.visible_station(here, NANAN) is here
    assert scope.visible_station(there, ADMIN) is there
    for station in (there, None):
        with pytest.raises(scope.StationHidden) as hidden:
            scope.visible_station(station, NANAN)
        assert (hidden.value.status_code, hidden.value.code) == (404, "station_not_found")


def test_districts_the_network_and_writing() -> None:
    scope.check_district(NANAN, "南岸区")
    with pytest.raises(scope.DistrictForbidden) as forbidden:
        scope.check_district(NANAN, "渝中区")
    assert forbidden.value.status_code == 403
    scope.check_network(ADMIN)
    scope.check_network(CITY_VIEWER)
    for narrow in (NANAN, NANAN_VIEWER):
        with pytest.raises(scope.DistrictForbidden):
            scope.check_network(narrow)
    scope.check_write(NANAN)
    with pytest.raises(scope.ReadOnly) as read_only:
        scope.check_write(CITY_VIEWER)
    assert read_only.value.code == "read_only"
