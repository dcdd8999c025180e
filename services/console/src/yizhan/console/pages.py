"""The three pages (overview, station, alarms) built from request parameters, shared by the
HTML routes, the CSV exports and the JSON API, so that they always agree."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from yizhan.common.auth import Operator
from yizhan.console.alarms_view import build_alarms_view
from yizhan.console.i18n import Lang
from yizhan.console.overview import build_overview
from yizhan.console.peers.stations import Station, StationsDirectory
from yizhan.console.period import Period, parse_period
from yizhan.console.scope import ConsoleScope, resolve_scope, station_in_scope
from yizhan.console.station_view import build_station_view
from yizhan.console.view import View
from yizhan.console.wiring import ConsoleDeps

PageKind = Literal["overview", "station", "alarms"]


@dataclass(frozen=True)
class PageQuery:
    """What the picker sends: scope narrowing, period and bucket."""

    district: str | None = None
    period: str | None = None
    bucket: str | None = None
    first: str | None = None
    last: str | None = None

    def period_in(self, tz: str) -> Period:
        """The chosen period in a zone; PeriodError when invalid."""
        return parse_period(self.period, self.bucket, self.first, self.last, tz)


@dataclass
class Page:
    """A built page with what its template needs besides the view."""

    view: View
    scope: ConsoleScope | None = None
    station: Station | None = None


async def build_page(
    kind: PageKind,
    directory: StationsDirectory,
    console: ConsoleDeps,
    operator: Operator,
    query: PageQuery,
    lang: Lang,
    t: Callable[..., str],
    station_id: str | None = None,
) -> Page:
    """One page for one operator; OutOfScope or PeriodError for a bad request."""
    tz = console.settings.timezone
    if kind == "station":
        assert station_id is not None
        station = await station_in_scope(directory, operator, station_id)
        period = query.period_in(station.timezone or tz)
        view = await build_station_view(directory, console.sources, station, period, lang, t)
        return Page(view, station=station)
    scope = await resolve_scope(directory, operator, query.district)
    period = query.period_in(tz)
    if kind == "alarms":
        view = await build_alarms_view(console.sources, scope, period, lang, t)
    else:
        view = await build_overview(directory, console.sources, scope, period, lang, t)
    return Page(view, scope=scope)
