"""What an operator sees on the console: the whole network, or only their districts, and
optionally one district of those. Every page and export goes through here, so a district
operator never sees another district's stations, figures, alarms or dead letters."""

from dataclasses import dataclass

from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common import scope
from yizhan.common.auth import Operator
from yizhan.common.scope import OutOfScope as OutOfScope  # what pages catch
from yizhan.console.peers.stations import Station, StationsDirectory


@dataclass(frozen=True)
class ConsoleScope:
    """The stations a page covers."""

    operator: Operator
    # The district the operator narrowed to, if any.
    district: str | None
    stations: list[Station]
    # Districts the operator may pick from.
    districts: list[str]

    @property
    def whole_network(self) -> bool:
        """True when nothing is filtered out (an admin or city-wide viewer, no district)."""
        return self.operator.sees_everything and self.district is None

    @property
    def station_ids(self) -> list[str]:
        """Ids of the stations in scope."""
        return [s.id for s in self.stations]

    def station_set(self) -> insights_pb2.StationSet:
        """The scope as telemetry's insights calls take it."""
        if self.whole_network:
            return insights_pb2.StationSet(all=True)
        return insights_pb2.StationSet(station_ids=self.station_ids)

    def usage_stations(self) -> list[str] | None:
        """The scope as telemetry's usage call takes it: station ids, None for all."""
        return None if self.whole_network else self.station_ids


async def resolve_scope(
    directory: StationsDirectory, operator: Operator, district: str | None
) -> ConsoleScope:
    """The operator's scope, narrowed to `district` when given (OutOfScope if not theirs)."""
    if operator.sees_everything:
        districts = await directory.districts()
    else:
        districts = sorted(operator.districts)
    if district:
        scope.check_district(operator, district)
        chosen: list[str] | None = [district]
    else:
        chosen = None if operator.sees_everything else list(operator.districts)
    stations = await directory.list_stations(chosen)
    return ConsoleScope(operator, district or None, stations, districts)


async def station_in_scope(
    directory: StationsDirectory, operator: Operator, station_id: str
) -> Station:
    """One station the operator may see (OutOfScope otherwise, whether or not it exists)."""
    return scope.visible_station(await directory.get_station(station_id), operator)
