"""Output encoding for HTML pages that Jinja's autoescaping does not cover: data embedded
as JSON inside a `<script>` element."""

import json
from typing import Any

import jinja2
from markupsafe import Markup

# Inside <script>, the HTML parser ends the element at `</script` whatever JSON means, and
# `<!--` changes how it reads on; `&` matters in XHTML; U+2028/U+2029 end lines in older
# JavaScript. Escaped as \uXXXX, all of them stay the same JSON value.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def script_json(value: Any) -> Markup:
    """`value` as JSON that is safe inside `<script type="application/json">`."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup(text.translate(_SCRIPT_ESCAPES))  # noqa: S704 (escaped just above)


def install_filters(env: jinja2.Environment) -> None:
    """Give a template environment the `script_json` filter (use it instead of `|safe`)."""
    env.filters["script_json"] = script_json
