"""The QR code of a booking code (what kiosks scan): the shared inline-SVG drawing."""

from yizhan.common.qr import qr_svg as qr_svg
