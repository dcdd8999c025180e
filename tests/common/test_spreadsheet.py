"""CSV cells never become formulas (issue 9): fullwidth formula signs are neutralised too."""

import pytest

from yizhan.common.spreadsheet import safe_cell


@pytest.mark.parametrize(
    "text", ["=1+1", "+1", "-1", "@SUM(A1)", "＝HYPERLINK(1)", "＋1", "＠x", "\tx"]
)
def test_formula_starts_get_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["王大姐", "13800138000", "", 12, 1.5, None])
def test_other_cells_are_left_alone(value: object) -> None:
    assert safe_cell(value) == value
