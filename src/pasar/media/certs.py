"""A DTLS certificate for FFmpeg's WHIP muxer.

FFmpeg (8.x) generates an ECDSA P-224 certificate for DTLS by default, and
the OpenSSL that ships with ``cryptography`` (4.x, which aiortc uses) refuses
P-224 ("illegal parameter"). FFmpeg connects when handed a P-256 certificate
through its ``cert_file``/``key_file`` options; ``pasar whip-cert`` writes one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pasar.private_files import replace_private


def write_p256_certificate(directory: Path, days: int = 3650) -> tuple[Path, Path]:
    """Write ``whip-cert.pem`` and ``whip-key.pem`` (self-signed, P-256) into
    ``directory``; returns their paths. WebRTC checks the certificate's
    fingerprint from the SDP, not a CA, so self-signed is what every peer uses."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pasar-whip-publisher")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "whip-cert.pem"
    key_path = directory / "whip-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    replace_private(key_path, private)  # 0600 from the start, not chmod after
    return cert_path, key_path
