"""The worker booking form at `/`: server-rendered, works without JavaScript, mobile-first,
Chinese by default with English one tap away. The steps are in flow.py, a booking's own page
in pages.py; every text comes from the catalogues (texts.py)."""

from fastapi import APIRouter

from yizhan.bookings.web import feedback_page, finder, flow, keeping, pages
from yizhan.bookings.web.render import build_templates

router = APIRouter(include_in_schema=False)
router.include_router(flow.router)
router.include_router(pages.router)
router.include_router(finder.router)
router.include_router(keeping.router)
router.include_router(feedback_page.router)

__all__ = ["build_templates", "router"]
