"""The alarms page: every open alarm of the scope with its age, and recent dead letters."""

import asyncio
from collections.abc import Callable
from datetime import datetime

from yizhan.console.dead_letters import dead_letters_table
from yizhan.console.i18n import Lang
from yizhan.console.overview import alarms_table
from yizhan.console.period import Period
from yizhan.console.scope import ConsoleScope
from yizhan.console.sources import Sources
from yizhan.console.view import View, attempt

PAGE_ALARMS = 500
PAGE_DEAD_LETTERS = 100


async def build_alarms_view(
    sources: Sources, scope: ConsoleScope, period: Period, lang: Lang, t: Callable[..., str]
) -> View:
    """Open alarms oldest first, dead letters newest first."""
    view = View(period)
    station_set = scope.station_set()
    alarms, letters = await asyncio.gather(
        attempt(view, t, sources.open_alarms(station_set, PAGE_ALARMS)),
        attempt(view, t, sources.dead_letters(station_set, PAGE_DEAD_LETTERS)),
    )
    names = {s.id: (s.name_zh if lang == "zh" else s.name_en) for s in scope.stations}
    now = datetime.now(period.zone)
    if alarms is not None:
        view.tables["alarms"] = alarms_table(t, lang, alarms[0], names, now, period.zone)
        view.now["open_alarms"] = alarms[1]
    if letters is not None:
        view.tables["dead_letters"] = dead_letters_table(t, letters, period.zone)
    return view
