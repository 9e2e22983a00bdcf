"""Certificates and keys for a loopback-only control plane: a CA, the apiserver's serving cert, an admin client."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)


@dataclasses.dataclass(frozen=True)
class PKIPaths:
    """Where each PEM file of one cluster's PKI lives."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_pub: Path

    @classmethod
    def under(cls, directory: Path) -> PKIPaths:
        return cls(
            ca_cert=directory / "ca.crt",
            ca_key=directory / "ca.key",
            serving_cert=directory / "apiserver.crt",
            serving_key=directory / "apiserver.key",
            admin_cert=directory / "admin.crt",
            admin_key=directory / "admin.key",
            service_account_key=directory / "sa.key",
            service_account_pub=directory / "sa.pub",
        )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _signed(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name,
            issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
            usages: list[x509.ObjectIdentifier], sans: list[x509.GeneralName]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=not ca, key_cert_sign=ca,
                                            crl_sign=ca, content_commitment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def generate(directory: Path) -> PKIPaths:
    """Write a fresh CA, serving cert (127.0.0.1, localhost), admin client cert and service-account keys."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = PKIPaths.under(directory)

    ca_key = _key()
    ca_name = _name("fairshare-local-ca")
    ca_cert = _signed(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True, usages=[], sans=[])

    serving_key = _key()
    serving_sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),  # first IP of the service range: the kubernetes Service
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes.default.svc"),
    ]
    serving_cert = _signed(_name("kube-apiserver"), serving_key.public_key(), ca_name, ca_key, ca=False,
                           usages=[ExtendedKeyUsageOID.SERVER_AUTH], sans=serving_sans)

    # system:masters makes this the break-glass admin; only local tooling and tests use it.
    admin_key = _key()
    admin_cert = _signed(_name("admin", "system:masters"), admin_key.public_key(), ca_name, ca_key, ca=False,
                         usages=[ExtendedKeyUsageOID.CLIENT_AUTH], sans=[])

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    for cert, path in ((ca_cert, paths.ca_cert), (serving_cert, paths.serving_cert), (admin_cert, paths.admin_cert)):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for key, path in ((ca_key, paths.ca_key), (serving_key, paths.serving_key), (admin_key, paths.admin_key),
                      (sa_key, paths.service_account_key)):
        _write_key(path, key)
    paths.service_account_pub.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths


def write_kubeconfig(path: Path, server: str, pki: PKIPaths, user: str = "admin") -> Path:
    """Write a kubeconfig that kubectl, kopf and the Python client all accept (file references, not inline data)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: fairshare-local\n  cluster:\n    server: {server}\n"
        f"    certificate-authority: {pki.ca_cert}\n"
        f"users:\n- name: {user}\n  user:\n    client-certificate: {pki.admin_cert}\n"
        f"    client-key: {pki.admin_key}\n"
        f"contexts:\n- name: fairshare-local\n  context:\n    cluster: fairshare-local\n    user: {user}\n"
        "current-context: fairshare-local\n"
    )
    path.chmod(0o600)
    return path
