"""Accessibility checks with axe-core (the bundle shipped in axe-playwright-python), run in
the page the test is on; the same rules Deque's browser extension applies."""

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# WCAG 2.1 A and AA: the level public services are held to.
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def axe_violations(page: Page) -> list[str]:
    """One line per axe-core violation on the page as it is now (empty when there are none)."""
    results = Axe().run(page, options={**WCAG_AA, "resultTypes": ["violations"]})
    lines = []
    for violation in results.response["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return lines


def assert_accessible(page: Page) -> None:
    """Fails with every violation listed when axe-core finds any on the page."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)
