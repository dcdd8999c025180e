"""JSON for script context (issue 9): nothing in a value can end the script element."""

import json

from yizhan.common.html import script_json


def test_script_json_escapes_what_ends_a_script_and_keeps_the_value() -> None:
    value = {"name": "</script><script>alert(1)</script><!-- & \u2028\u2029 驿站"}
    encoded = str(script_json(value))
    for dangerous in ("<", ">", "&", "\u2028", "\u2029"):
        assert dangerous not in encoded
    assert json.loads(encoded) == value
