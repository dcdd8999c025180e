"""A development certificate authority kept in a folder: a CA, a server certificate for the
names the stack listens on, and client certificates on request (mutual TLS). Files are
reused when present, so kiosks and scripts that trust `ca.crt` keep trusting it across runs.

Not for production: there, certificates come from the operator's CA or ACME (docs/deploy.md).
"""

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825
# A leaf is issued anew when it expires within this many days.
RENEW_BEFORE_DAYS = 30
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1", "::1")
ORGANISATION = "Yizhan development"


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class DevTls:
    """The files of a development CA folder."""

    folder: Path
    ca_cert: Path
    server: CertPair

    def client(self, name: str) -> CertPair:
        """A client certificate for `name` (CN), issued on first use and then reused."""
        pair = CertPair(
            self.folder / "clients" / f"{name}.crt", self.folder / "clients" / f"{name}.key"
        )
        if not _leaf_usable(pair, self.ca_cert, []):
            ca_key, ca_cert = _load_ca(self.folder)
            _issue_leaf(pair, ca_key, ca_cert, name, [], [ExtendedKeyUsageOID.CLIENT_AUTH])
        return pair


def ensure_dev_tls(folder: Path, server_names: Sequence[str] = DEFAULT_SERVER_NAMES) -> DevTls:
    """The CA and server certificate in `folder`, made when missing; the server certificate is
    issued again when it lacks one of `server_names` (host names or IP addresses) or expires."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = folder / "ca.crt", folder / "ca.key"
    if not (ca_cert_path.exists() and ca_key_path.exists()):
        _make_ca(ca_cert_path, ca_key_path)
    server = CertPair(folder / "server.crt", folder / "server.key")
    names = list(dict.fromkeys(server_names))
    if not _leaf_usable(server, ca_cert_path, names):
        ca_key, ca_cert = _load_ca(folder)
        # Client use too: services present the same certificate when mutual TLS is on.
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        _issue_leaf(server, ca_key, ca_cert, names[0], names, usages)
    return DevTls(folder=folder, ca_cert=ca_cert_path, server=server)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: small, fast, understood by Mosquitto, gRPC and every kiosk TLS stack we know.
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Private keys readable by their owner only, from the moment they exist.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _make_ca(cert_path: Path, key_path: Path) -> None:
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, "Yizhan development CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)


def _load_ca(folder: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise RuntimeError(f"{folder / 'ca.key'} is not an EC key made by the devstack")
    return key, x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())


def _subject_alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    return alt


def _leaf_usable(pair: CertPair, ca_cert_path: Path, names: Sequence[str]) -> bool:
    """Whether the leaf exists, was signed by this CA, is valid a while yet and covers names."""
    if not (pair.cert.exists() and pair.key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if cert.not_valid_after_utc - _now() < datetime.timedelta(days=RENEW_BEFORE_DAYS):
        return False
    if not names:
        return True
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            return False  # made before server certificates served mutual TLS too
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return all(name in san for name in _subject_alt_names(names))


def _issue_leaf(
    pair: CertPair,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    names: Sequence[str],
    usages: Sequence[x509.ObjectIdentifier],
) -> None:
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_subject_alt_names(names)), critical=False
        )
    _write_key(pair.key, key)
    _write_cert(pair.cert, builder.sign(ca_key, hashes.SHA256()))
