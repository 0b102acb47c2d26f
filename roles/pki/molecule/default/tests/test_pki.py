"""The pki role: an authority kept on the controller, a host certificate that chains to it and
names what clients use, keys only the owner reads."""

import os
import subprocess
from pathlib import Path

SECRETS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
CA, HOST = SECRETS / "ca", SECRETS / "instance"


def openssl(*args: str) -> str:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_keys_are_readable_by_their_owner_only():
    for key in (CA / "ca.key", HOST / "tls.key"):
        assert key.stat().st_mode & 0o077 == 0, key
    for directory in (SECRETS, CA, HOST):
        assert directory.stat().st_mode & 0o077 == 0, directory


def test_the_host_certificate_chains_to_the_authority():
    assert openssl("verify", "-CAfile", str(CA / "ca.crt"), str(HOST / "tls.crt")).strip().endswith(": OK")
    ca = openssl("x509", "-in", str(CA / "ca.crt"), "-noout", "-text")
    assert "CA:TRUE" in ca and "Certificate Sign" in ca
    assert "SmartShop Stack CA" in openssl("x509", "-in", str(CA / "ca.crt"), "-noout", "-subject")


def test_the_certificate_names_what_clients_use():
    text = openssl("x509", "-in", str(HOST / "tls.crt"), "-noout", "-ext", "subjectAltName,extendedKeyUsage")
    names = ("DNS:localhost", "DNS:instance", "DNS:prometheus", "DNS:mol-pki-node-exporter", "DNS:shop.example.test")
    for name in names:
        assert name in text, (name, text)
    for address in ("IP Address:127.0.0.1", "IP Address:10.199.50.7"):
        assert address in text, (address, text)
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    assert "CA:TRUE" not in openssl("x509", "-in", str(HOST / "tls.crt"), "-noout", "-text")


def test_the_key_is_the_certificates():
    cert = openssl("x509", "-in", str(HOST / "tls.crt"), "-noout", "-pubkey")
    key = openssl("pkey", "-in", str(HOST / "tls.key"), "-pubout")
    assert cert == key
