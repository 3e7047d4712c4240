"""Mutual TLS for the gRPC ports of the embedded S3 server.

``weed mini``'s master, volume server, filer and gateway talk gRPC to each other on port +
10000 of each; without TLS anyone on the host could call them (copy a volume file, read a
needle). At every start a new certificate authority signs one certificate that every
component presents as server and as client; the authority's private key is never written, so
no other certificate can be made for it, and weed refuses any peer without one.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)  # the files are replaced at every start anyway
# The [grpc.<name>] sections of security.toml: every server weed mini runs, and its clients.
COMPONENTS = ("master", "volume", "filer", "s3", "admin", "worker", "msg_broker", "mq", "client")


@dataclass(frozen=True)
class GrpcCertificates:
    """A new authority's certificate, and the certificate and key it signed, as PEM text."""

    ca: str
    cert: str
    key: str


def security_sections(ca: Path, cert: Path, key: Path) -> str:
    """The ``[grpc]`` sections of security.toml that turn mutual TLS on, for these files."""
    sections = [f'[grpc]\nca = "{ca}"\n']
    sections += [f'[grpc.{name}]\ncert = "{cert}"\nkey = "{key}"\n' for name in COMPONENTS]
    return "\n".join(sections)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_certificates() -> GrpcCertificates:
    """A new authority and one certificate it signed, for 127.0.0.1 and localhost, as server
    and as client; the authority's key is dropped."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("steve-lite embedded S3 gRPC authority")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    node_key = ec.generate_private_key(ec.SECP256R1())
    node_cert = (
        x509.CertificateBuilder()
        .subject_name(name("steve-lite embedded S3"))
        .issuer_name(ca_name)
        .public_key(node_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = node_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return GrpcCertificates(
        ca=ca_cert.public_bytes(pem).decode(),
        cert=node_cert.public_bytes(pem).decode(),
        key=key_pem.decode(),
    )
