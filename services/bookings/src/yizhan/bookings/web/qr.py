"""The QR code of a booking code, as inline SVG: no image request on a weak network, and no
imaging library needed. It holds the code exactly as printed, which is what kiosks scan."""

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from markupsafe import Markup

# Quiet zone in modules: scanners need about four; the page adds white space around it too.
BORDER = 3


def qr_svg(code: str) -> Markup:
    """An <svg> element drawing `code` as a QR code (medium error correction, scalable)."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=BORDER,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    qr.add_data(code)
    qr.make(fit=True)
    svg: str = qr.make_image().to_string(encoding="unicode")
    # Size comes from the page's CSS; the drawing keeps its viewBox and scales sharply.
    svg = svg.replace('width="', 'data-width="', 1).replace('height="', 'data-height="', 1)
    # The code is [2-9A-Z] only (codes.py), so the SVG carries no text a page could inject.
    return Markup(svg)  # noqa: S704
