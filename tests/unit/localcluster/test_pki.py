"""The local cluster's PKI: a CA that signs a loopback serving cert and a system:masters client cert."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fairshare.localcluster.pki import generate, write_kubeconfig


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_generated_pki_chains_to_its_ca(tmp_path: Path) -> None:
    paths = generate(tmp_path)
    ca, serving, admin = _cert(paths.ca_cert), _cert(paths.serving_cert), _cert(paths.admin_cert)

    serving.verify_directly_issued_by(ca)
    admin.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert ExtendedKeyUsageOID.SERVER_AUTH in serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert paths.admin_key.stat().st_mode & 0o777 == 0o600


def test_kubeconfig_points_at_the_server_with_the_admin_cert(tmp_path: Path) -> None:
    paths = generate(tmp_path)
    kubeconfig = yaml.safe_load(write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:6443", paths).read_text())

    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert kubeconfig["clusters"][0]["cluster"]["certificate-authority"] == str(paths.ca_cert)
    assert kubeconfig["users"][0]["user"]["client-certificate"] == str(paths.admin_cert)
    assert kubeconfig["current-context"] == kubeconfig["contexts"][0]["name"]
