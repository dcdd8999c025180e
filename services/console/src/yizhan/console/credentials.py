"""A device's credentials sheet: what a kiosk maker types in, and the same in one QR code
(docs/device-credentials.md): `mqtts://<username>:<password>@<host>:<port>/yz/v1/st/<station>/dev/<device>`.
A URI every platform can take apart (scheme, user, password, host, port), whose path is the
device's own topic prefix; the CA certificate is handed over separately (too big for a QR)."""

from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup

from yizhan.common.mqtt import TOPIC_PREFIX
from yizhan.common.qr import qr_svg


@dataclass(frozen=True)
class CredentialsCard:
    """One device's sheet: the fields and their QR code."""

    station_id: str
    station_name: str
    device_id: str
    kind: str
    host: str
    port: int
    username: str
    password: str

    @property
    def uri(self) -> str:
        """What the QR code holds."""
        user = quote(self.username, safe="")
        secret = quote(self.password, safe="")
        station, device = quote(self.station_id, safe=""), quote(self.device_id, safe="")
        topic = f"{TOPIC_PREFIX}/{station}/dev/{device}"
        return f"mqtts://{user}:{secret}@{self.host}:{self.port}/{topic}"

    @property
    def qr(self) -> Markup:
        """The QR code of `uri`, as inline SVG."""
        return qr_svg(self.uri)
