"""Bad input fails in site.yml's preflight play, naming the variable, before anything changes:
types and choices against the roles' argument specs, the rest in their preflight asserts."""

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ({"smartshop_image_source": "bogus"}, "images_source must be one of: auto, upstream, airgap, registry, got: bogus"),
    # registry mode needs the host that builds the images and runs the registry
    ({"smartshop_image_source": "registry"}, "Inventory group registry_hosts must list at least one host"),
    ({"mysql_port": "abc"}, "argument 'mysql_port' is of type str and we were unable to convert to int"),
    ({"mysql_port": 70000}, "mysql_port must be a port between 1 and 65535"),
    ({"mysql_root_password": "short"}, "mysql_root_password must be a string of at least 16"),
    ({"mysql_app_password": ""}, "mysql_app_password must be a string of at least 16"),
    ({"mysql_exporter_password": "has'quote-and-is-long-enough"}, "mysql_exporter_password must be"),
    ({"mysql_bind_address": "everywhere"}, "mysql_bind_address must be an IPv4 address"),
    ({"smartshop_bind_address": "::1"}, "got '::1' (from smartshop_bind_address)"),
    # the container module refused them only when it reached that container, after other roles' changes
    ({"frontend_bind_address": "localhost"}, "not IPv6) on localhost: frontend_bind_address is 'localhost'"),
    ({"prometheus_bind_address": "::1"}, "prometheus_bind_address is '::1'"),
    ({"mysql_app_user": "exporter"}, "must differ"),
    # a relative directory put MariaDB's root password and TLS key under the working directory
    ({"smartshop_config_dir": "relative/dir"}, "(they are mounted into containers): smartshop_config_dir is"),
    ({"mysql_config_dir": "etc/mysql"}, "mysql_config_dir is 'etc/mysql'"),
    ({"smartshop_project": "My Stack"}, "got 'My Stack'"),
    ({"network_networks": []}, "network_networks must list at least one network"),
    ({"images_upstream": {"mysql": "mariadb:latest", "base": "debian:bookworm-slim"}}, "images_upstream.mysql"),
    ({"docker_host_wait_timeout": "soon"}, "argument 'docker_host_wait_timeout' is of type str and we were unable"),
    ({"docker_host_wait_timeout": 0}, "docker_host_wait_timeout must be a positive integer"),
    ({"simulator_state": "running"}, "value of simulator_state must be one of: service, absent, got: running"),
    ({"backend_replicas": "many"}, "argument 'backend_replicas' is of type str and we were unable to convert to int"),
    ({"backend_replicas": 0}, "backend_replicas must be an integer between 1 and 32"),
    ({"backend_threads": 9}, "backend_pool_size (9) must be at least backend_threads + 1 (10)"),
    # each worker has its pool: 2 x 16 x 9 connections took the database's (200), the next migration
    # found "Too many connections" and the API answered 502
    ({"backend_workers": 16}, "The API's replicas may hold 288 connections to the database (localhost: 288;"),
    ({"backend_workers": 16}, "lets them hold 180: max-connections (200, from mysql_server_flags"),
    ({"backend_pool_size": 40, "mysql_extra_flags": ["--loose-max_connections=50"]}, "hold 80 connections"),
    # 128 passed the health check; under load the workers could not start their threads (502s)
    ({"backend_workers": 2, "backend_pids_limit": 40}, "backend_pids_limit (40) is below what a replica runs"),
    ({"backend_workers": 29, "mysql_extra_flags": ["--max-connections=600"]}, "at least 528m"),
    ({"alertmanager_state": "on"}, "value of alertmanager_state must be one of: present, absent, got: on"),
    ({"prometheus_port": 8000}, "would publish the same port: frontend_api_port and prometheus_port (8000)"),
    # the container module would fail only when it reached MariaDB; 8m would leave it restarting
    ({"mysql_memory_limit": "lots"}, "mysql_memory_limit must be a size such as 512m or 1g, at least 256m"),
    ({"backend_memory_limit": "64m"}, "backend_memory_limit must be a size such as 512m or 1g, at least 128m"),
    ({"mysql_extra_flags": "--max-connections=300"}, "mysql_extra_flags must be a list of mariadbd flags"),
    ({"mysql_binlog_keep_hours": 0}, "mysql_binlog_keep_hours must be a whole number of hours, 1 or more"),
    ({"mysql_binlog_keep_hours": "1.5"}, "'mysql_binlog_keep_hours' is of type str and we were unable to convert"),
    ({"mysql_extra_flags": ["--skip_grant_tables"]}, "must not undo what the role secures: skip-grant-tables"),
    ({"mysql_extra_flags": ["--loose-local-infile=ON"]}, "must not undo what the role secures: local-infile=on"),
    # the console's entry point refused them: the new container exited after replacing the old one
    ({"frontend_write_rate_limit": 0}, "frontend_write_rate_limit must be an integer between 1 and 999999; got '0'"),
    ({"frontend_write_burst": -1}, "frontend_write_burst must be an integer between 0 and 999999"),
    # nginx's password file is user:hash: a ':' in the name locked everyone out of the console
    ({"frontend_console_user": "ad:min"}, "frontend_console_user is the console's login name"),
    # its hash is cheap to check (nginx checks it on every request): the length is its strength
    ({"frontend_console_password": "tooshort"}, "frontend_console_password must be at least 16 characters"),
    ({"frontend_console_user": ""}, "got ''."),
    # `$` let a final newline through (a YAML block scalar): nginx's password file split again
    ({"frontend_console_user": "admin\n"}, "frontend_console_user is the console's login name"),
    # the console's entry point refused a link that is not http(s), after replacing the running console
    ({"grafana_public_url": "javascript:alert(1)"}, "frontend_grafana_url must be an http:// or https:// URL"),
    ({"prometheus_public_url": "http://x y"}, "(it comes from prometheus_public_url of the monitoring host"),
    # the simulator refused it when its new container started, after replacing the running one
    ({"simulator_rate": "inf"}, "simulator_rate must be a number of req/s above 0, at most 100000"),
    # the kernel refused it when the new server started, the running one already removed
    ({"mysql_tmpdir_size": "lots"}, "mysql_tmpdir_size is the size of MariaDB's /tmp (a tmpfs)"),
    ({"mysql_tmpdir_size": "256MB"}, "got '256MB'"),
    # a percentage where a share is meant: the rule rendered "> 80" and could never fire
    ({"prometheus_alert_mysql_connections_ratio": 80}, "prometheus_alert_mysql_connections_ratio is a share"),
    ({"prometheus_alert_error_ratio": 0}, "prometheus_alert_error_ratio is a share, above 0 and below 1"),
    # the simulator's own parser refused them, its running container already replaced
    ({"simulator_seed": "abc"}, "simulator_seed must be empty (random) or a whole number"),
    ({"simulator_api_url": "ftp://x"}, "and simulator_api_url an http:// or https:// URL; got '' and 'ftp://x'"),
]


@pytest.fixture(scope="module")
def outcomes(playbook_runner, tmp_path_factory):
    """Each case's site.yml run, two at a time (each its own HOME and secrets): half the wall time."""

    homes = [tmp_path_factory.mktemp("preflight") for _ in CASES]  # here: mktemp is not thread-safe

    def run(job):
        home, (extra, _) = job
        return playbook_runner(home, "site.yml", "-e", json.dumps(extra))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, zip(homes, CASES, strict=True)))


@pytest.mark.parametrize(
    ("index", "message"),
    [(i, c[1]) for i, c in enumerate(CASES)],
    ids=[next(iter(c[0])) + "=" + str(next(iter(c[0].values())))[:12] for c in CASES],
)
def test_bad_input_fails_before_any_change(outcomes, index, message):
    code, output = outcomes[index]
    assert code != 0, output[-2000:]
    assert message in output, output[-3000:]
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap, output[-2000:]
    assert recap.group(1) == "0", "something changed before the preflight failed"
    assert recap.group(2) == "1"
    assert "TASK [docker_host : Install" not in output


@pytest.mark.parametrize(
    "inventory", ["inventory/local/hosts.yml", "bench/inventory/hosts.yml", "inventory/example-multihost"]
)
def test_site_yml_finds_every_group_it_names_in_the_inventories_we_ship(playbook_runner, tmp_path, inventory):
    """They declare the optional groups empty: `make up`, `make bench-api` and the example do not warn
    "Could not match supplied host pattern" for a group site.yml plays on (every play's hosts listed,
    nothing run, no host reached)."""
    code, output = playbook_runner(tmp_path, "-i", inventory, "site.yml", "--list-hosts")
    assert code == 0, output[-2000:]
    assert output.count("pattern: ") >= 10, output[-2000:]
    assert "Could not match supplied host pattern" not in output, output[-2000:]


def test_every_port_a_role_publishes_is_in_its_exports():
    """site.yml's same-port check reads each role's `<role>_published`: a published port missing
    there would escape it."""
    for run in ROOT.glob("roles/*/tasks/*.yml"):
        text = run.read_text()
        for block in re.findall(r"published_ports:(.*?)(?:\n    [a-z_]+:|\Z)", text, re.S):
            role = run.parts[-3]
            exports = (ROOT / "roles" / role / "tasks" / "exports.yml").read_text()
            for variable in set(re.findall(r"\b([a-z]+_[a-z_]*port[a-z_]*)\b", block)):
                assert variable in exports.split(f"__{role}_published:")[1].split("\n    __")[0], (
                    f"roles/{role}: {variable} is published ({run.name}) but not in {role}_published"
                )


def test_a_dry_run_on_a_host_never_converged_says_so_before_anything(playbook_runner, tmp_path):
    """--check where site.yml never ran stops in the preflight, saying what to do, rather than half-way
    through the certificates (whose directory a dry run does not make)."""
    code, output = playbook_runner(
        tmp_path, "site.yml", "--check", "-e", json.dumps({"smartshop_config_dir": str(tmp_path / "config")})
    )
    assert code != 0, output[-2000:]
    assert "A dry run (--check) compares what site.yml would change" in output, output[-3000:]
    assert "Run site.yml once without --check" in output
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap, output[-2000:]
    assert recap.group(1) == "0"
    assert not (tmp_path / "secrets").exists(), "a dry run made credentials"


@pytest.mark.parametrize(
    ("manifest", "says"),
    [(None, "(it is missing)"), ('{"images": {"backend": 42', "(it is unreadable: see the warning above)")],
    ids=["missing", "cut-short"],
)
def test_a_run_limited_by_tags_with_no_record_of_images_stops_before_anything(
    playbook_runner, tmp_path, manifest, says
):
    """Without images.json each role's image fell back to an upstream name: --tags mysql would have
    pulled Docker Hub's MariaDB to run over the stack's data. A manifest cut short failed on
    `from_json`, naming no file; now it is a warning and reads as no record."""
    config = tmp_path / "config"
    config.mkdir()
    if manifest is not None:
        (config / "images.json").write_text(manifest)
    code, output = playbook_runner(
        tmp_path, "site.yml", "--tags", "mysql", "-e", json.dumps({"smartshop_config_dir": str(config)})
    )
    assert code != 0, output[-2000:]
    assert "This run skips the images role (--tags mysql) and runs mysql" in output, output[-3000:]
    assert says in output
    assert "Run site.yml once without --tags (or add --tags images)" in output
    if manifest is not None:
        assert f"{config}/images.json, the images an earlier run recorded, is unreadable: it is not JSON" in output
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap, output[-2000:]
    assert recap.group(1) == "0"


# Ansible's `match` test is Python's re.match, where `$` also matches before a final newline: a
# value such as "admin\n" (a YAML block scalar, a file read whole) passed a pattern ending in `$`,
# then broke what it named (nginx's password file, a container name). `\Z` is the end of the text.
MATCH = re.compile(r"""is match\((['"])(.*?)\1\)""")


def test_no_preflight_pattern_lets_a_trailing_newline_through():
    files = [*ROOT.glob("roles/*/tasks/*.yml"), ROOT / "site.yml", *ROOT.glob("playbooks/*.yml")]
    loose = [
        f"{path.relative_to(ROOT)}: {pattern}"
        for path in files
        for _, pattern in MATCH.findall(path.read_text())
        if pattern.endswith("$") and not pattern.endswith("\\$")
    ]
    assert not loose, "end these patterns with \\Z, not $ (which accepts a trailing newline):\n" + "\n".join(loose)


CONSOLE_LINKS = [
    "",
    "http://127.0.0.1:3030",
    "https://grafana.example/d/x?orgId=1&from=now-1h",
    "http://h/\u00e9t\u00e9",
    "javascript:alert(1)",
    "ftp://x",
    "http://x y",
    "http://x\ty",
    "http://x\n",
    "http://x\ny",
    "http://x'y",
    'http://x"y',
    "http://x<y>",
    "HTTP://x",
    "http://",
]


def test_the_preflight_refuses_exactly_the_console_links_its_entry_point_refuses(tmp_path):
    """The console's entry point (bash) refuses a link that is not http(s), after the new container
    replaced the running one; the frontend's preflight must refuse the same ones first."""
    task = next(
        t
        for t in yaml.safe_load((ROOT / "roles/frontend/tasks/preflight.yml").read_text())
        if t["name"] == "Check the console's links are http(s) URLs"
    )
    # the pattern as Jinja reads its string literal (\\ and \' unescaped), then Python's re
    literal = MATCH.search(task["ansible.builtin.assert"]["that"]).group(2)
    pattern = re.compile(re.sub(r"\\([\\'])", r"\1", literal))
    entrypoint = (ROOT / "app/frontend/docker-entrypoint.sh").read_text()
    check = next(line.strip() for line in entrypoint.splitlines() if "is not an http(s) URL" in line)
    script = tmp_path / "check.sh"
    script.write_text(f"url=$1\n{check}\necho accepted\n")
    for url in CONSOLE_LINKS:
        ran = subprocess.run(["bash", str(script), url], capture_output=True, text=True, check=False)
        entry_accepts = ran.returncode == 0 and ran.stdout.strip() == "accepted"
        preflight_accepts = url == "" or pattern.match(url) is not None
        assert preflight_accepts == entry_accepts, (
            f"{url!r}: preflight {preflight_accepts}, entry point {entry_accepts}"
        )
