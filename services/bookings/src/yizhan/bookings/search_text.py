"""Searching station names and addresses the way workers type them: Chinese (解放碑),
pinyin in full or by initials, with or without spaces (jiefangbei, jie fang bei, jfb), or
English (Jiefangbei Station). Pinyin comes from pypinyin (phrase-aware: 重庆 is chongqing).

pypinyin takes about a millisecond per station: the finder builds its stations' pinyin once,
in a worker thread (`warm`), and answers from plain names and addresses until it is there
(`known_or_plain`); later refreshes find it cached, so no request ever pays for it."""

import re
from collections.abc import Iterable

from pypinyin import lazy_pinyin

# Distinct (names, address) tuples kept: far more than the network has stations.
CACHE_SIZE = 65_536
_SPACES = re.compile(r"[\s\-·'’]+")
_HAN = re.compile(r"[\u3400-\u9fff]")
_cache: dict[tuple[str, ...], str] = {}


def _squash(text: str) -> str:
    return _SPACES.sub("", text.casefold())


def _plain(parts: tuple[str, ...]) -> str:
    return "\n".join(_squash(part) for part in parts if part)


def _with_pinyin(parts: tuple[str, ...]) -> str:
    forms: dict[str, None] = {}  # ordered, without repeats
    for part in parts:
        if not part:
            continue
        forms[_squash(part)] = None
        if _HAN.search(part):
            syllables = lazy_pinyin(part)
            forms[_squash("".join(syllables))] = None
            forms[_squash("".join(s[:1] for s in syllables if s.strip()))] = None
    # Separate lines: a match never spans two forms.
    return "\n".join(forms)


def searchable(*parts: str) -> str:
    """The text to look a needle up in: the parts as written, their pinyin in full and by
    initials, casefolded, without spaces (computed now when not cached)."""
    found = _cache.get(parts)
    if found is None:
        found = _with_pinyin(parts)
        _remember(parts, found)
    return found


def known_or_plain(*parts: str) -> str:
    """`searchable(*parts)` when already built, else the parts alone (no pinyin yet)."""
    return _cache.get(parts) or _plain(parts)


def warm(many: Iterable[tuple[str, ...]]) -> int:
    """Build the searchable text of each tuple not cached yet (for a worker thread); how many."""
    built = 0
    for parts in many:
        if parts not in _cache:
            _remember(parts, _with_pinyin(parts))
            built += 1
    return built


def _remember(parts: tuple[str, ...], text: str) -> None:
    if len(_cache) >= CACHE_SIZE:
        _cache.clear()  # names changed many times over: start afresh
    _cache[parts] = text


def needle_of(query: str | None) -> str:
    """The query as searched: casefolded, spaces and dashes dropped ("" for none)."""
    return _squash(query or "")


def matches(needle: str, text: str) -> bool:
    """Whether a needle (needle_of) is found in a searchable text (or the needle is empty)."""
    return not needle or needle in text
