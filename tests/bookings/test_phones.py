"""Phone numbers normalised once (issue 9, hole 3): however a mobile number is typed it is
one phone, and digits of other scripts are refused rather than counted as a new phone."""

import pytest

from yizhan.bookings.phones import normalize_phone


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "0086 13800138000",
        "8613800138000",
        "１３８００１３８０００",  # fullwidth, as Chinese keyboards type it
        "＋８６　１３８－００１３－８０００",  # fullwidth plus, dash and ideographic space
    ],
)
def test_every_way_of_typing_a_mobile_is_the_same_phone(typed: str) -> None:
    assert normalize_phone(typed) == "13800138000"


@pytest.mark.parametrize(
    "typed",
    [
        "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits
        "१३८००१३८०००",  # Devanagari digits
        "13\u0668\u0660\u0660\u0661\u0663\u0668\u0660\u0660\u0660",  # 13 + Arabic-Indic
        "138\u0966\u0966\u0967\u0969\u096e\u0966\u0966\u0966",  # 138 + Devanagari
        "13800138000\u0660",
        "12800138000",  # not a mobile prefix
        "1380013800",
        "+1 138 0013 8000",
    ],
)
def test_anything_else_is_refused(typed: str) -> None:
    assert normalize_phone(typed) is None
