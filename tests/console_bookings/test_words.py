"""Every word the bookings pages look up by a value (an action, a state, a refusal code) is
in the console's dictionary, so no raw value shows on a page (issue 14 item 4's rule)."""

import re
from pathlib import Path

import pytest

from yizhan.bookings import audit
from yizhan.bookings.models import OPINION_CATEGORIES, OPINION_STATUSES, SESSION_KINDS
from yizhan.console.bookings_manage import SESSION_KINDS as PAGE_KINDS
from yizhan.console.i18n import TEXTS
from yizhan.console.opinions_manage import OPINION_CATEGORIES as PAGE_CATEGORIES

pytestmark = pytest.mark.unit

BOOKINGS_SRC = Path(audit.__file__).parent
CONSOLE_SRC = Path(__file__).parents[2] / "services/console/src/yizhan/console"


def _raised_keys() -> set[str]:
    """Message keys bookings raises (its refusals reach the page as `bk_code_<key>`)."""
    pattern = re.compile(r'(?:NotFound|Conflict|InvalidInput)\(\s*"([a-z_]+)"')
    keys: set[str] = set()
    for name in ("forum_admin.py", "opinions.py", "livestream_admin.py"):
        keys |= set(pattern.findall((BOOKINGS_SRC / name).read_text()))
    # An operator's cancel and check-in by code (booking_service.py also raises the worker's).
    return keys | {"booking_not_found", "booking_started"}


def _audit_words() -> set[str]:
    pattern = re.compile(r'(action|entity)="([a-z_]+)"')
    words: set[str] = set()
    for path in BOOKINGS_SRC.glob("*.py"):
        words |= {f"bk_{kind}_{value}" for kind, value in pattern.findall(path.read_text())}
    return words


def test_every_looked_up_word_is_in_both_languages() -> None:
    assert set(PAGE_KINDS) == set(SESSION_KINDS)
    assert set(PAGE_CATEGORIES) == set(OPINION_CATEGORIES)
    wanted = {f"bk_kind_{k}" for k in SESSION_KINDS}
    wanted |= {f"bk_category_{c}" for c in OPINION_CATEGORIES}
    wanted |= {f"bk_opinion_{s}" for s in OPINION_STATUSES}
    wanted |= {"bk_session_scheduled", "bk_session_cancelled"}
    wanted |= _audit_words()
    wanted |= {f"bk_code_{key}" for key in _raised_keys() if key != "station_not_found"}
    wanted |= {f"bk_done_{d}" for d in re.findall(r"\?done=([a-z_]+)", _routes_text())}
    assert "bk_action_check_in" in wanted  # the scan found the audit's words
    assert "bk_code_seats_below_confirmed" in wanted  # and bookings' refusals
    assert "bk_done_opinion_moved" in wanted  # and the pages' notices
    missing = sorted(key for key in wanted if key not in TEXTS)
    assert not missing, missing
    assert all(all(TEXTS[key]) for key in wanted)


def _routes_text() -> str:
    return "".join(
        (CONSOLE_SRC / name).read_text() for name in ("bookings_manage.py", "opinions_manage.py")
    )
