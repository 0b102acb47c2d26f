"""TLS to MariaDB as the API connects (MySQLdb with config.connect_args): the server's certificate
must be signed by the CA given and name the host connected to, or there is no connection (the
API answers 503); with both right, every statement goes over TLS, the migrations' included."""

from __future__ import annotations

import dataclasses

import pytest

from smartshop_backend.db import Database, DatabaseUnavailable
from smartshop_backend.migrate import migrate


def _tls_status(database: Database) -> str:
    def work(cur):
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        return cur.fetchone()["Value"]

    try:
        return database.run(work)
    finally:
        database.close()


def test_the_certificate_signed_by_the_ca_and_naming_the_host_gives_tls(migrated, mariadb):
    settings = dataclasses.replace(migrated, db_ssl_ca=str(mariadb["tls"]["ca.pem"]))
    assert _tls_status(Database(settings)).startswith("TLSv1.")
    assert migrate(settings) == []  # the migrator connects the same way (nothing left to apply)


def test_a_certificate_not_naming_the_host_connected_to_is_refused(migrated, mariadb):
    container = mariadb["container"]
    container.reload()
    address = container.attrs["NetworkSettings"]["IPAddress"]  # the test's own container; not in the certificate
    assert address
    settings = dataclasses.replace(migrated, db_host=address, db_port=3306, db_ssl_ca=str(mariadb["tls"]["ca.pem"]))
    with pytest.raises(DatabaseUnavailable, match="certificate"):
        _tls_status(Database(settings))
    # the same address without TLS answers: the refusal is the host name check's
    plain = dataclasses.replace(settings, db_ssl_ca="")
    assert _tls_status(Database(plain)) == ""


def test_a_certificate_another_ca_signed_is_refused(migrated, mariadb):
    settings = dataclasses.replace(migrated, db_ssl_ca=str(mariadb["tls"]["other-ca.pem"]))
    with pytest.raises(DatabaseUnavailable, match="certificate"):
        _tls_status(Database(settings))
