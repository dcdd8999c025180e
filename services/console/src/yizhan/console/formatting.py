"""How times and durations read on the page (exports keep ISO 8601, see tables.plain)."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from yizhan.console.i18n import WEEKDAY_KEYS, WEEKDAYS, Lang


def local_time(moment: datetime | None, tz: str) -> str:
    """`2026-11-22 14:05` in the zone, or a dash."""
    if moment is None:
        return "–"
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def bucket_label(start: datetime, bucket: str, tz: str) -> str:
    """A chart's axis label for a bucket starting at `start`."""
    local = start.astimezone(ZoneInfo(tz))
    if bucket == "hour":
        return local.strftime("%m-%d %H:00")
    if bucket == "month":
        return local.strftime("%Y-%m")
    return local.strftime("%m-%d")


def age(since: datetime, now: datetime, lang: Lang) -> str:
    """How long ago, in the largest two units: `2天3小时` / `2d 3h`."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = ("天", "小时", "分") if lang == "zh" else ("d ", "h ", "min")
    if days:
        text = f"{days}{units[0]}{hours}{units[1]}"
    elif hours:
        text = f"{hours}{units[1]}{mins}{units[2]}"
    else:
        text = f"{mins}{units[2]}"
    return text.strip()


def opening_hours_text(
    hours: Mapping[str, Sequence[Sequence[str]]], lang: Lang, t: Callable[..., str]
) -> list[str]:
    """A station's week, Monday first, days with the same hours run together:
    `周一至周五 08:00–18:00`, `周六、周日 休息` (a weekday left out is closed)."""
    names = WEEKDAYS[lang]
    spans = [
        " ".join(f"{span[0]}–{span[1]}" for span in hours.get(day, [])) or t("closed_day")
        for day in WEEKDAY_KEYS
    ]
    runs: list[tuple[int, int]] = []
    for index, text in enumerate(spans):
        if runs and spans[runs[-1][0]] == text:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    lines = []
    for first, last in runs:
        if first == last:
            days = names[first]
        elif last == first + 1:
            days = f"{names[first]}{'、' if lang == 'zh' else ', '}{names[last]}"
        else:
            days = f"{names[first]}{t('through')}{names[last]}"
        lines.append(f"{days} {spans[first]}")
    return lines
