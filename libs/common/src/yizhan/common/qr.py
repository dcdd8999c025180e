"""QR codes as inline SVG (booking codes on the worker site, device credentials in the
console): no image request on a weak network, nothing loaded from elsewhere (strict CSP), and
no imaging library needed."""

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from markupsafe import Markup

# Quiet zone in modules: scanners need about four; pages add white space around it too.
BORDER = 3


def qr_svg(text: str) -> Markup:
    """An <svg> element drawing `text` as a QR code (medium error correction, scalable)."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=BORDER,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    qr.add_data(text)
    qr.make(fit=True)
    svg: str = qr.make_image().to_string(encoding="unicode")
    # Size comes from the page's CSS; the drawing keeps its viewBox and scales sharply.
    svg = svg.replace('width="', 'data-width="', 1).replace('height="', 'data-height="', 1)
    # The SVG is one path of modules: the encoded text is not in it, so nothing to escape.
    return Markup(svg)  # noqa: S704
