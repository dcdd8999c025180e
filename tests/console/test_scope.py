"""Who sees what: the scope's station set and usage stations for each kind of operator."""

import pytest

from yizhan.api.stations.v1.stations_pb2 import Station
from yizhan.common.auth import Operator
from yizhan.console.scope import ConsoleScope

pytestmark = pytest.mark.unit


def _station(station_id: str, district: str) -> Station:
    return Station(id=station_id, name_zh="驿站", name_en="Station", district=district)


def test_admin_sees_the_network_until_a_district_is_picked() -> None:
    admin = Operator("admin", "admin")
    everything = ConsoleScope(admin, None, [_station("A", "南川区")], ["南川区", "渝中区"])
    assert everything.whole_network
    assert everything.station_set().all
    assert everything.usage_stations() is None
    picked = ConsoleScope(admin, "渝中区", [_station("B", "渝中区")], ["南川区", "渝中区"])
    assert not picked.whole_network
    assert list(picked.station_set().station_ids) == ["B"]
    assert picked.usage_stations() == ["B"]


def test_district_operator_is_never_the_network() -> None:
    operator = Operator("d", "district", ("南川区", "赣县区"))
    scope = ConsoleScope(operator, None, [], sorted(operator.districts))
    assert not scope.whole_network
    # No stations yet: an empty set, which telemetry reads as "nothing", not "everything".
    assert not scope.station_set().all
    assert list(scope.station_set().station_ids) == []
    assert scope.usage_stations() == []
