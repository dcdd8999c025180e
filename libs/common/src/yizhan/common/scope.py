"""The one authority on operator scope: whether an operator may see a station, a district or
the whole network, and whether they may change things. Every service asks here (its HTTP
routes, stations' CheckOperatorScope, the console's pages), so the rules cannot drift.

A station outside one's districts is reported as absent (404), so that ids do not leak; a
district or the network outside one's scope, or a read-only operator writing, is 403. The
refusals are problem responses with stable codes when they reach HTTP unhandled."""

from typing import Protocol, TypeVar

from yizhan.common.auth import Operator
from yizhan.common.http import Problem


class HasDistrict(Protocol):
    """A station as any service holds it: all scope needs is its district."""

    @property
    def district(self) -> str:
        """The station's district."""
        ...


S = TypeVar("S", bound=HasDistrict)


class OutOfScope(Problem):
    """The operator may not see or do this."""


class StationHidden(OutOfScope):
    """No such station, or one outside the operator's districts (the same answer)."""

    def __init__(self) -> None:
        super().__init__(404, "station_not_found", "no such station")


class DistrictForbidden(OutOfScope):
    """A district (or the whole network) outside the operator's scope."""

    def __init__(self, what: str) -> None:
        super().__init__(403, "out_of_scope", f"{what} outside your scope")


class ReadOnly(OutOfScope):
    """A viewer tried to change something."""

    def __init__(self) -> None:
        super().__init__(403, "read_only", "read-only operator")


def visible_station(station: S | None, operator: Operator) -> S:
    """The station if it exists and the operator may see it; StationHidden otherwise."""
    if station is None or not operator.can_see_district(station.district):
        raise StationHidden()
    return station


def check_district(operator: Operator, district: str) -> None:
    """DistrictForbidden unless the district is in the operator's scope."""
    if not operator.can_see_district(district):
        raise DistrictForbidden(f"district {district}")


def check_network(operator: Operator) -> None:
    """DistrictForbidden unless the operator sees the whole network."""
    if not operator.sees_everything:
        raise DistrictForbidden("the whole network")


def check_write(operator: Operator) -> None:
    """ReadOnly unless the operator may change things."""
    if not operator.can_write:
        raise ReadOnly()
