"""The simulator against the real backend in containers (app_stack): fixed-rate runs, the
payment ratio, the error rate, runtime rate control, distributed mode, and the interactive
menu driven in a pseudo-terminal."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
import requests
from testing.stack import free_port

SIMULATOR = Path(__file__).resolve().parent.parent
CMD = [sys.executable, "-m", "smartshop_simulator"]
ENV = {**os.environ, "PYTHONPATH": str(SIMULATOR), "PYTHONUNBUFFERED": "1"}


def run(*args: str, timeout: float = 120) -> tuple[int, dict | None, str]:
    result = subprocess.run(
        [*CMD, "run", *args], capture_output=True, text=True, timeout=timeout, env=ENV, cwd=SIMULATOR
    )
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return result.returncode, summary, result.stderr


@pytest.fixture(scope="module")
def api(app_stack) -> str:
    ENV["SMARTSHOP_OPERATOR_TOKEN"] = app_stack["operator_token"]  # as the simulator role gives it
    return app_stack["backend_direct"]


def stats(api: str) -> dict:
    return requests.get(f"{api}/api/stats", timeout=5).json()


def test_thirty_second_run_at_a_fixed_rate(api):
    before = stats(api)
    code, summary, stderr = run(
        "--host",
        api,
        "--rate",
        "40",
        "--duration",
        "30",
        "--seed",
        "7",
        "--success-ratio",
        "0.8",
        "--error-rate",
        "0.1",
        "--quiet",
    )
    assert code == 0, stderr
    assert summary["failures_by_code"] == {}, summary
    assert abs(summary["achieved_rps"] - 40) <= 40 * 0.05, summary
    assert summary["users_created"] > 0 and summary["orders_created"] > 0
    paid = summary["payments"]["success"] + summary["payments"]["failed"]
    assert paid >= 100, summary
    assert abs(summary["payment_success_ratio"] - 0.8) <= 0.1, summary
    assert abs(summary["error_rate"] - 0.1) <= 0.03, summary
    after = stats(api)
    assert after["total_users"] - before["total_users"] == summary["users_created"]
    assert after["total_success_payments"] - before["total_success_payments"] == summary["payments"]["success"]
    assert after["total_failed_payments"] - before["total_failed_payments"] == summary["payments"]["failed"]


def test_without_the_operator_token_payments_follow_the_api_and_no_error_is_injected(api):
    env = {key: value for key, value in ENV.items() if key != "SMARTSHOP_OPERATOR_TOKEN"}
    result = subprocess.run(
        [
            *CMD,
            "run",
            "--host",
            api,
            "--rate",
            "40",
            "--duration",
            "8",
            "--seed",
            "3",
            "--error-rate",
            "0.2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=SIMULATOR,
    )
    assert result.returncode == 0, result.stderr
    assert "no operator token" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failures_by_code"] == {}, summary  # no 401: nothing needing the token was sent
    assert summary["error_rate"] == 0, summary
    assert sum(summary["payments"].values()) > 0, summary


def test_same_seed_same_traffic(api):
    runs = [
        run("--host", api, "--rate", "30", "--duration", "4", "--seed", "11", "--users", "1", "--quiet")[1]
        for _ in range(2)
    ]
    assert runs[0]["responses_by_code"] and runs[0]["payments"] == runs[1]["payments"]
    assert runs[0]["users_created"] == runs[1]["users_created"]


def test_unreachable_api_exits_non_zero_with_one_line(api):
    code, summary, stderr = run("--host", "http://127.0.0.1:1", "--duration", "5")
    assert code != 0 and summary is None
    assert stderr.strip().count("\n") == 0
    assert "unreachable" in stderr and "Connection refused" in stderr


def test_intensive_mode_stops_after_the_cycles(api):
    code, summary, stderr = run("--host", api, "--mode", "intensive", "--cycles", "20", "--rate", "max", "--quiet")
    assert code == 0, stderr
    assert sum(summary["payments"].values()) >= 20
    assert summary["duration_s"] < 60


def test_rate_changes_at_runtime_through_the_control_endpoint(api):
    port = free_port()
    proc = subprocess.Popen(
        [*CMD, "run", "--host", api, "--rate", "20", "--duration", "16", "--control-port", str(port), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=SIMULATOR,
    )
    try:
        control = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if requests.get(f"{control}/status", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the control endpoint did not come up"
                time.sleep(0.2)
        time.sleep(4)
        slow = requests.get(f"{control}/status", timeout=2).json()
        assert abs(slow["achieved_rps"] - 20) <= 4, slow
        operator = {"Authorization": f"Bearer {ENV['SMARTSHOP_OPERATOR_TOKEN']}"}
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            refused = requests.post(f"{control}/rate", json={"rate": 1000}, headers=headers, timeout=2)
            assert refused.status_code == 401 and "operator token" in refused.json()["error"]
        assert requests.get(f"{control}/status", timeout=2).json()["requested_rps"] == 20.0
        changed = requests.post(f"{control}/rate", json={"rate": 80}, headers=operator, timeout=2)
        assert changed.json() == {"requested_rps": 80.0}
        assert requests.post(f"{control}/rate", json={"rate": "fast"}, headers=operator, timeout=2).status_code == 400
        time.sleep(5)
        fast = requests.get(f"{control}/status", timeout=2).json()
        assert fast["requested_rps"] == 80.0
        assert abs(fast["achieved_rps"] - 80) <= 8, fast
        metrics = requests.get(f"{control}/metrics", timeout=2).text
        assert "smartshop_simulator_requested_rps 80.0" in metrics
        assert "smartshop_simulator_achieved_rps" in metrics
        assert 'smartshop_simulator_payments_total{result="success"}' in metrics
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["requested_rps"] == 80.0


def test_distributed_mode_with_two_workers(api):
    port = free_port()
    workers = [
        subprocess.Popen(
            [*CMD, "worker", "--master-port", str(port)],
            env=ENV,
            cwd=SIMULATOR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        code, summary, stderr = run(
            "--host",
            api,
            "--rate",
            "60",
            "--duration",
            "10",
            "--workers",
            "2",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--quiet",
        )
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert code == 0, stderr
    assert len(summary["workers"]) == 2, summary
    assert all(n > 100 for n in summary["workers"].values()), summary["workers"]
    assert summary["requests"] == sum(summary["workers"].values())
    assert abs(summary["achieved_rps"] - 60) <= 60 * 0.1, summary
    assert summary["failures_by_code"] == {}


def test_interactive_menu_in_a_terminal(api):
    child = pexpect.spawn(
        CMD[0],
        [*CMD[1:], "menu", "--host", api, "--demo-seconds", "6", "--rate", "30"],
        env=ENV,
        cwd=str(SIMULATOR),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    try:
        child.expect("Choix \\[1-7\\]: ")
        for option in (
            "Simulation automatique",
            "Simulation intensive",
            "Démo rapide",
            "Voir les statistiques",
            "Tester l'API",
            "Voir les logs",
            "Quitter",
        ):
            assert option in child.before
        child.sendline("3")  # the demo: live figures, then the summary and back to the menu
        child.expect(r"req/s\s+\d+\.\d / 30")
        child.expect("Résumé: (\\d+) requêtes")
        assert int(child.match.group(1)) > 0
        child.expect("Choix \\[1-7\\]: ")
        child.sendline("1")  # continuous, changed to 50 req/s, then Ctrl-C
        child.expect("req/s")
        child.sendline("50")
        child.expect("débit demandé: 50.0 req/s")
        child.expect(r"/ 50 ")
        child.sendintr()
        child.expect("Résumé")
        child.expect("Choix \\[1-7\\]: ")
        assert "Traceback" not in child.before
        child.sendline("4")
        child.expect('"total_users": \\d+')
        child.expect("Choix \\[1-7\\]: ")
        child.sendline("5")
        child.expect("API OK")
        child.expect("Choix \\[1-7\\]: ")
        child.sendline("6")
        child.expect(r"\((low|medium|high)\)")
        child.expect("Choix \\[1-7\\]: ")
        child.sendline("9")
        child.expect("Choix inconnu")
        child.expect("Choix \\[1-7\\]: ")
        child.sendline("7")
        child.expect("Au revoir")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def simulator_beside_the_api(app_stack, images, docker_client, *options: str):
    """The simulator's image running `run` against the first replica, on the stack's network."""
    if "simulator" not in images:
        pytest.fail("no simulator image in the manifest: run `make images`")
    backend = next(c for c in app_stack["containers"] if c.name.endswith("-backend-1"))
    network = next(iter(backend.attrs["NetworkSettings"]["Networks"]))
    command = ["run", "--host", f"http://{backend.name}:8000", *options]
    return docker_client.containers.run(images["simulator"], command, network=network, detach=True)


def test_runs_as_a_container_on_the_stack_network(app_stack, images, docker_client):
    options = ("--rate", "20", "--duration", "5", "--quiet", "--seed", "3")
    container = simulator_beside_the_api(app_stack, images, docker_client, *options)
    try:
        result = container.wait(timeout=60)
        output = container.logs(stdout=True, stderr=False).decode().strip().splitlines()
        assert result["StatusCode"] == 0, container.logs().decode()[-2000:]
        summary = json.loads(output[-1])
        assert summary["requests"] >= 90 and summary["failures_by_code"] == {}
        assert container.attrs["Config"]["User"] == "10003:10003"
    finally:
        container.remove(force=True, v=True)


def test_as_a_service_docker_stop_ends_it_gracefully_with_its_summary(app_stack, images, docker_client):
    """As the role runs it (--duration 0, a progress line a minute): `docker stop` (SIGTERM) ends the
    run within the engine's grace, exit 0 and the summary printed. It slept a whole tick between
    looks at the stop: the engine killed it after 10 s (exit 137), its summary lost."""
    options = ("--rate", "10", "--duration", "0", "--progress-every", "60")
    container = simulator_beside_the_api(app_stack, images, docker_client, *options)
    try:
        time.sleep(5)  # some traffic (no progress line before a minute)
        container.reload()
        assert container.status == "running", container.logs().decode()[-2000:]
        container.stop(timeout=10)
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, container.logs().decode()[-2000:]
        summary = json.loads(container.logs(stdout=True, stderr=False).decode().strip().splitlines()[-1])
        assert summary["requests"] > 0
    finally:
        container.remove(force=True, v=True)


def test_a_worker_on_another_host_sends_its_traffic_to_the_api_at_its_own_address(app_stack, images, docker_client):
    """worker --host: a worker reaches the API as its own host does, not at the master's address.
    Here the master shares the console's network namespace and reaches the API at 127.0.0.1:8000,
    where the worker's container has nothing; the worker's traffic must all be answered."""
    console = next(c for c in app_stack["containers"] if c.name.endswith("-frontend"))
    network, settings = next(iter(console.attrs["NetworkSettings"]["Networks"].items()))
    master = docker_client.containers.run(
        images["simulator"],
        ["run", "--host", "http://127.0.0.1:8000", "--rate", "20", "--duration", "8", "--workers", "1",
         "--master-bind-host", settings["IPAddress"], "--master-bind-port", "5557", "--quiet", "--seed", "5"],
        network_mode=f"container:{console.id}",
        detach=True,
    )  # fmt: skip
    worker = docker_client.containers.run(
        images["simulator"],
        ["worker", "--master-host", console.name, "--master-port", "5557", "--host", f"http://{console.name}:8000",
         "--name", "elsewhere"],
        network=network,
        detach=True,
    )  # fmt: skip
    try:
        result = master.wait(timeout=90)
        output = master.logs(stdout=True, stderr=False).decode().strip().splitlines()
        assert result["StatusCode"] == 0, master.logs().decode()[-2000:]
        summary = json.loads(output[-1])
        assert len(summary["workers"]) == 1 and summary["requests"] >= 100, summary
        assert summary["failures_by_code"] == {}, summary  # 0 would be a worker that could not connect
    finally:
        master.remove(force=True, v=True)
        worker.remove(force=True, v=True)


def assert_each_creation_once(before: dict, after: dict, summary: dict) -> None:
    """What the simulator says it created (users, orders, payments) is what the database gained."""
    assert after["total_users"] - before["total_users"] == summary["users_created"], summary
    assert after["total_orders"] - before["total_orders"] == summary["orders_created"], summary
    made = sum(summary["payments"].values())
    paid = (after["total_success_payments"] + after["total_failed_payments"]) - (
        before["total_success_payments"] + before["total_failed_payments"]
    )
    assert paid == made, summary


def test_creations_retried_through_a_paused_database_have_exactly_one_effect(api, app_stack):
    """The database paused for longer than the API's socket timeout while shoppers create users,
    orders and payments: the API answers 503, the simulator sends each creation again with its
    Idempotency-Key, and every creation it counts is in the database exactly once (no duplicate
    from a first attempt that committed after its client was told it failed)."""
    database = next(c for c in app_stack["containers"] if c.name.endswith("-mysql"))
    before = stats(api)
    port = free_port()
    args = ["--host", api, "--rate", "20", "--duration", "44", "--seed", "11", "--quiet", "--control-port", str(port)]
    args += ["--weights", "new_user=2,create_order=4,advance_order=6", "--error-rate", "0", "--retries", "4"]
    simulator = subprocess.Popen(
        [*CMD, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=SIMULATOR
    )
    try:
        time.sleep(8)
        database.pause()
        # Only the requests the replica's threads hold get the API's 503, when they give up (its
        # deadline, then the socket: about 12 s); those could all be steps that are not creations.
        # The database stays paused until the simulator has sent a creation again (its /status), a
        # wave of 503s at a time, for at most 26 s: what follows has 10 s to recover.
        deadline = time.monotonic() + 26
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with contextlib.suppress(requests.RequestException, ValueError):
                if requests.get(f"http://127.0.0.1:{port}/status", timeout=2).json().get("retries", 0) > 0:
                    break
        database.unpause()
        out, err = simulator.communicate(timeout=180)
    finally:
        database.reload()
        if database.status == "paused":
            database.unpause()
        simulator.kill()
    assert simulator.returncode in (0, 1), err
    summary = json.loads(out.strip().splitlines()[-1])
    after = stats(api)
    assert summary["retries"] > 0, json.dumps(summary)  # the pause was felt, and creations were sent again
    assert summary["recovered"] > 0, json.dumps(summary)
    assert_each_creation_once(before, after, summary)


def test_a_replica_killed_under_load_duplicates_nothing_and_only_requests_in_flight_fail(app_stack):
    """One of the two API replicas killed (SIGKILL) while the simulator runs through the console's
    nginx: nginx sends what it can to the other replica, the simulator retries its creations with
    their keys, nothing is written twice, and the failures shoppers are left with are at most the
    requests that were in flight on the killed replica (16 users: at most 16)."""
    api = app_stack["api"]
    replica = next(c for c in app_stack["containers"] if c.name.endswith("-backend-2"))
    before = stats(api)
    args = ["--host", api, "--rate", "40", "--users", "16", "--duration", "25", "--seed", "5", "--quiet"]
    args += ["--error-rate", "0", "--retries", "3"]
    simulator = subprocess.Popen(
        [*CMD, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=SIMULATOR
    )
    try:
        time.sleep(8)
        replica.kill()  # SIGKILL: requests it was serving are cut
        out, err = simulator.communicate(timeout=120)
        assert out.strip(), err
    finally:
        simulator.kill()
        replica.start()
    summary = json.loads(out.strip().splitlines()[-1])
    after = stats(api)
    failed = sum(summary["failures_by_code"].values())
    assert failed <= 16, summary  # only what was in flight on the killed replica
    assert_each_creation_once(before, after, summary)
    print(f"replica killed: {failed} failed request(s), {summary['retries']} retried, {summary['recovered']} recovered")
    deadline = time.monotonic() + 90  # the next tests get both replicas back
    while replica.reload() or replica.attrs["State"].get("Health", {}).get("Status") != "healthy":
        assert time.monotonic() < deadline, "the killed replica did not come back healthy"
        time.sleep(1)


def test_a_late_worker_is_configured_and_the_rate_is_shared_again_and_no_token_crosses_the_channel(api, tmp_path):
    """The master's channel has neither encryption nor authentication: it never carries the operator
    token. A worker without its own copy makes no operator call (its payments follow the API's
    ratio, it injects no error); a worker that joins a run under way is configured as the first one,
    and the rate is divided again so that the whole run keeps its rate."""
    port, control = free_port(), free_port()
    tokenless = {k: v for k, v in ENV.items() if k != "SMARTSHOP_OPERATOR_TOKEN"}
    token_file = tmp_path / "operator_token"
    token_file.write_text(ENV["SMARTSHOP_OPERATOR_TOKEN"] + "\n")

    def worker(env: dict, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*CMD, "worker", "--master-port", str(port), *extra],
            env=env,
            cwd=SIMULATOR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = worker(tokenless)
    master = subprocess.Popen(
        [*CMD, "run", "--host", api, "--rate", "40", "--duration", "16", "--workers", "1", "--error-rate", "0.2",
         "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--control-port", str(control),
         "--quiet"],
        env=ENV, cwd=SIMULATOR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(6)
    late = worker(tokenless, "--operator-token-file", str(token_file), "--name", "late")
    try:
        time.sleep(5)
        # the master's metrics: both workers, and what the late one sent, by the name it gave
        metrics = requests.get(f"http://127.0.0.1:{control}/metrics", timeout=5).text
        assert "smartshop_simulator_workers 2.0" in metrics, metrics
        (late_sent,) = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('smartshop_simulator_worker_requests_total{worker="late"}')
        ]
        assert late_sent > 0
        out, err = master.communicate(timeout=60)
    finally:
        for process in (first, late):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    assert master.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert len(summary["workers"]) == 2 and all(n > 40 for n in summary["workers"].values()), summary["workers"]
    assert abs(summary["achieved_rps"] - 40) <= 40 * 0.15, summary
    # the worker without a token injected no error and requested no payment outcome: no 401 at all;
    # the late one, with its file, injected errors (the error endpoints' own codes)
    assert "401" not in summary["failures_by_code"], summary["failures_by_code"]
    assert summary["error_calls"] > 0, summary
