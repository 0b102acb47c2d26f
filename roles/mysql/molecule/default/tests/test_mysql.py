"""What users of the mysql role feel: a healthy, private, persistent, least-privilege database."""

import os
import shlex
import subprocess
import sys
import time

import pytest

CONTAINER = "mol-mysql-mysql"
VOLUME = "mol-mysql-mysql-data"
PORT = 13306
SECRETS = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "secrets", "instance")


def secret(name: str) -> str:
    with open(os.path.join(SECRETS, name), encoding="utf-8") as handle:
        return handle.read().split()[0]


TLS = "--ssl --ssl-ca=/etc/mysql/tls/ca.pem --ssl-verify-server-cert"


def sql(host, user: str, password_file: str, query: str, database: str = "smartshop", tls: str = TLS):
    """Run a query over TCP inside the container, as a client on the stack network would (TLS, the
    server checked against the stack's authority)."""
    cmd = (
        f"docker exec {CONTAINER} mariadb --protocol=tcp -h127.0.0.1 {tls} -u{user} "
        f"-p{shlex.quote(secret(password_file))} -N -B {database} -e {shlex.quote(query)}"
    )
    return host.run(cmd)


def root_sql(host, query: str, database: str = "smartshop"):
    """root, as it only may: through the server's socket inside the container."""
    cmd = (
        f"docker exec {CONTAINER} mariadb --protocol=socket -uroot "
        f"-p{shlex.quote(secret('mysql_root_password'))} -N -B {database} -e {shlex.quote(query)}"
    )
    return host.run(cmd)


@pytest.fixture(scope="module")
def inspect(host):
    """The container once Docker has given its health verdict: the side effect replaced it just
    before, and Docker checks first one interval (5 s) after the start (the converge went on when
    the action's own run of the check passed)."""
    deadline = time.monotonic() + 20
    while (c := host.docker(CONTAINER).inspect())["State"]["Health"]["Status"] == "starting":
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    return c


def test_container_is_healthy_and_running(inspect):
    assert inspect["State"]["Running"] is True
    assert inspect["State"]["Health"]["Status"] == "healthy"


def test_restart_policy(inspect):
    assert inspect["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_runs_as_non_root(host, inspect):
    assert inspect["Config"]["User"] == "999:999"
    assert host.run(f"docker exec {CONTAINER} id -u").stdout.strip() == "999"


def test_data_volume_mounted(inspect):
    mounts = {m["Destination"]: m for m in inspect["Mounts"]}
    assert mounts["/var/lib/mysql"]["Type"] == "volume"
    assert mounts["/var/lib/mysql"]["Name"] == VOLUME


def test_joined_stack_network_with_alias(inspect):
    network = inspect["NetworkSettings"]["Networks"]["mol-mysql-net"]
    assert "mysql" in network["Aliases"]


def test_port_published_on_loopback_only(host, inspect):
    assert inspect["HostConfig"]["PortBindings"] == {"3306/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(PORT)}]}
    assert host.socket(f"tcp://127.0.0.1:{PORT}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{PORT}").is_listening


def test_port_not_reachable_on_other_addresses(host):
    addresses = host.run("hostname -I").stdout.split()
    assert addresses, "the host has no non-loopback address to test against"
    for address in addresses:
        probe = host.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{PORT}'")
        assert probe.rc != 0, f"port {PORT} answers on {address}"


def test_skip_name_resolve_is_on(host):
    result = root_sql(host, "SELECT @@skip_name_resolve")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_secret_files_are_private(host):
    for name in ("mysql_root_password", "mysql_app_password", "mysql_exporter_password"):
        f = host.file(os.path.join(SECRETS, name))
        assert f.mode == 0o600, name
    root_file = host.file(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", CONTAINER, "root_password"))
    assert root_file.mode == 0o600
    assert root_file.uid == 999


def test_root_password_is_not_in_the_environment(inspect):
    env = "\n".join(inspect["Config"]["Env"])
    assert secret("mysql_root_password") not in env
    assert "MARIADB_ROOT_PASSWORD_FILE=/run/secrets/mysql_root_password" in env


def test_wrong_password_is_refused(host):
    cmd = f"docker exec {CONTAINER} mariadb --protocol=tcp -h127.0.0.1 -uroot -pwrong-password -e 'SELECT 1'"
    result = host.run(cmd)
    assert result.rc != 0
    assert "Access denied" in result.stderr


def test_app_user_can_write(host):
    result = sql(
        host,
        "smartshop",
        "mysql_app_password",
        "INSERT INTO molecule_marker VALUES (2, 'app write') ON DUPLICATE KEY UPDATE note='app write';"
        " SELECT note FROM molecule_marker WHERE id = 2",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "app write"


def test_app_user_cannot_change_schema_or_reach_other_databases(host):
    ddl = sql(host, "smartshop", "mysql_app_password", "CREATE TABLE intruder (id INT)")
    assert ddl.rc != 0
    assert "denied" in ddl.stderr
    other = sql(host, "smartshop", "mysql_app_password", "SELECT COUNT(*) FROM mysql.user", database="mysql")
    assert other.rc != 0


def test_exporter_user_can_monitor(host):
    result = sql(
        host,
        "exporter",
        "mysql_exporter_password",
        "SHOW GLOBAL STATUS LIKE 'Uptime'; SHOW PROCESSLIST; SHOW SLAVE STATUS",
        database="",
    )
    assert result.rc == 0, result.stderr
    assert "Uptime" in result.stdout


def test_exporter_user_cannot_write(host):
    result = sql(
        host, "exporter", "mysql_exporter_password", "INSERT INTO molecule_marker VALUES (3, 'exporter write')"
    )
    assert result.rc != 0
    assert "denied" in result.stderr
    check = root_sql(host, "SELECT COUNT(*) FROM molecule_marker WHERE id = 3")
    assert check.stdout.strip() == "0"


def test_exporter_user_connection_limit(host):
    result = root_sql(host, "SELECT max_user_connections FROM mysql.user WHERE user = 'exporter'", database="mysql")
    assert result.stdout.strip() == "3"


def test_the_apis_account_cannot_take_the_connections_the_others_need(host):
    """The API's account holds max_connections less 20 at most (30 in this scenario: 10). With its
    10 taken, an 11th is refused, and the migrator still connects: the pools of too many workers
    never stop a migration again ("Too many connections")."""
    limit = root_sql(host, "SELECT max_user_connections FROM mysql.user WHERE user = 'smartshop'", database="mysql")
    assert limit.stdout.strip() == "10", limit.stdout + limit.stderr
    client = f"mariadb --protocol=tcp -h127.0.0.1 {TLS} -usmartshop -p{shlex.quote(secret('mysql_app_password'))} -N -B"
    held = (
        f"for i in $(seq 10); do {client} -e 'SELECT SLEEP(8)' >/dev/null 2>&1 & done; sleep 3;"
        f" {client} -e 'SELECT 1' 2>&1; echo rc=$?; wait"
    )
    run = host.run(f"docker exec {CONTAINER} sh -c {shlex.quote(held)}")
    assert "rc=1" in run.stdout, run.stdout + run.stderr
    assert "max_user_connections" in run.stdout, run.stdout
    # while they were held (the 10 sleep 8 s; this ran 3 s in), run again with the migrator
    held_then_migrator = (
        f"for i in $(seq 10); do {client} -e 'SELECT SLEEP(6)' >/dev/null 2>&1 & done; sleep 3;"
        f" mariadb --protocol=tcp -h127.0.0.1 {TLS} -usmartshop_migrator"
        f" -p{shlex.quote(secret('mysql_migrator_password'))} -N -B -e 'SELECT CURRENT_USER()' 2>&1; wait"
    )
    run = host.run(f"docker exec {CONTAINER} sh -c {shlex.quote(held_then_migrator)}")
    assert run.stdout.strip().startswith("smartshop_migrator@"), run.stdout + run.stderr


def test_data_survived_container_removal(host, inspect):
    """side_effect wrote row 1, removed the container and converged again."""
    result = sql(host, "smartshop", "mysql_app_password", "SELECT note FROM molecule_marker WHERE id = 1")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "survives container removal"
    # and the container really is a new one, younger than the volume's data
    assert inspect["RestartCount"] == 0


def test_root_cannot_log_in_over_the_network(host):
    """Even with the right password: root@localhost only, through the socket."""
    refused = sql(host, "root", "mysql_root_password", "SELECT 1")
    assert refused.rc != 0 and "denied" in refused.stderr
    accounts = root_sql(host, "SELECT host FROM mysql.user WHERE user = 'root'", database="mysql")
    assert accounts.stdout.split() == ["localhost"]


def test_no_client_can_make_the_server_read_files(host):
    assert root_sql(host, "SELECT @@local_infile").stdout.strip() == "0"


def test_the_exporter_reads_no_shop_data(host):
    refused = sql(host, "exporter", "mysql_exporter_password", "SELECT COUNT(*) FROM molecule_marker")
    assert refused.rc != 0 and "denied" in refused.stderr
    grants = sql(host, "exporter", "mysql_exporter_password", "SHOW GRANTS", database="")
    assert "SELECT ON *.*" not in grants.stdout and "performance_schema" in grants.stdout


def test_the_accounts_must_speak_tls_and_the_server_proves_its_name(host):
    for user, password in (("smartshop", "mysql_app_password"), ("exporter", "mysql_exporter_password")):
        plain = sql(host, user, password, "SELECT 1", database="", tls="--skip-ssl")
        assert plain.rc != 0 and "denied" in plain.stderr, (user, plain.stderr)
    cipher = sql(host, "smartshop", "mysql_app_password", "SHOW SESSION STATUS LIKE 'Ssl_version'")
    assert cipher.rc == 0 and "TLSv1." in cipher.stdout, cipher.stdout + cipher.stderr
    others = "'root', 'healthcheck', 'mariadb.sys', 'smartshop_backup'"
    accounts = f"SELECT user, ssl_type FROM mysql.user WHERE user NOT IN ({others})"  # noqa: S608 (constants)
    required = root_sql(host, accounts, "mysql")
    assert {line.split()[1] for line in required.stdout.splitlines()} == {"ANY"}, required.stdout


def test_the_backup_account_copies_files_and_reads_no_row(host):
    """mariadb-backup's account: through the socket only, with what a hot copy needs and no SELECT."""
    accounts = root_sql(host, "SELECT host FROM mysql.user WHERE user = 'smartshop_backup'", database="mysql")
    assert accounts.stdout.split() == ["localhost"]
    over_tcp = sql(host, "smartshop_backup", "mysql_backup_password", "SELECT 1", database="")
    assert over_tcp.rc != 0 and "denied" in over_tcp.stderr
    password = shlex.quote(secret("mysql_backup_password"))
    login = f"docker exec {CONTAINER} mariadb --protocol=socket -usmartshop_backup -p{password} -N -B -e"
    grants = host.run(f"{login} 'SHOW GRANTS'")
    assert grants.rc == 0, grants.stderr
    assert "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.*" in grants.stdout, grants.stdout
    refused = host.run(login + " 'SELECT COUNT(*) FROM smartshop.molecule_marker'")  # noqa: S608 (constants)
    assert refused.rc != 0 and "denied" in refused.stderr


def converge() -> subprocess.CompletedProcess:
    """The scenario's converge again, as Molecule runs it (its inventory, its environment)."""
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    inventory = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return subprocess.run(
        [ansible_playbook, "-i", inventory, playbook], capture_output=True, text=True, timeout=600, check=False
    )


def test_a_lost_root_password_stops_the_run_and_the_hosts_copy_lets_it_through(host):
    """The controller's mysql_root_password deleted: the next run draws a new one, which the data
    volume was never given. It stops before changing anything and names the host's copy, the last
    record of root's password (it wrote the new one over it before, and then failed with a bare
    "Access denied"); that copy put back on the controller, a run goes through unchanged."""
    controller_copy = os.path.join(SECRETS, "mysql_root_password")
    host_copy = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", CONTAINER, "root_password")
    kept = host.file(host_copy).content_string
    os.remove(controller_copy)
    lost = converge()
    assert lost.returncode != 0, lost.stdout[-2000:]
    said = lost.stdout + lost.stderr  # the failure is on stderr
    assert f"is not root's password in MariaDB's data volume {VOLUME}" in said, said[-3000:]
    assert host.file(host_copy).content_string == kept
    assert secret("mysql_root_password") != kept.strip()  # the run did draw a new one
    with open(controller_copy, "w", encoding="utf-8") as handle:  # what the message says to do
        handle.write(host.file(host_copy).content_string)
    assert root_sql(host, "SELECT 1").stdout.split() == ["1"]
    mended = converge()
    assert mended.returncode == 0, mended.stdout[-3000:]
    assert "changed=0" in mended.stdout.split("PLAY RECAP")[-1], mended.stdout[-1500:]
