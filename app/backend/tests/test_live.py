"""The app served as in the image (`smartshop-backend serve`: granian, 2 workers x 4 threads): metrics
across workers, JSON logs, a graceful stop, and schemathesis fuzzing the live app from its own
OpenAPI document."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from testing.stack import free_port

from .conftest import OPERATOR, OPERATOR_TOKEN, SCRAPE_PASSWORD

BACKEND = Path(__file__).resolve().parent.parent


def _serve(settings, directory: Path) -> tuple[subprocess.Popen, str, Path]:
    """`smartshop-backend serve` as the image runs it, on a free loopback port; its log in directory."""
    port = free_port()
    multiproc = directory / "prom"
    log_path = directory / "server.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(BACKEND),
        "SMARTSHOP_DB_HOST": settings.db_host,
        "SMARTSHOP_DB_PORT": str(settings.db_port),
        "SMARTSHOP_DB_USER": settings.db_user,
        "SMARTSHOP_DB_PASSWORD": settings.db_password,
        "SMARTSHOP_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # granian
        "SMARTSHOP_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "SMARTSHOP_SCRAPE_PASSWORD": SCRAPE_PASSWORD,
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smartshop_backend", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=BACKEND,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc, base, log_path


@pytest.fixture(scope="module")
def live_server(migrated, tmp_path_factory):
    proc, base, log_path = _serve(migrated, tmp_path_factory.mktemp("live"))
    yield {"url": base, "log": log_path}
    proc.terminate()
    proc.wait(timeout=15)


def test_metrics_add_up_across_workers(live_server):
    base = live_server["url"]
    with requests.Session() as s:
        for _ in range(60):
            # new connections spread requests over both workers
            requests.get(f"{base}/api/products", timeout=5)
        assert s.get(f"{base}/metrics", timeout=5).status_code == 401
        text = s.get(f"{base}/metrics", auth=("prometheus", SCRAPE_PASSWORD), timeout=5).text
    match = re.search(r'smartshop_http_requests_total\{method="GET",route="/api/products",status="200"\} (\S+)', text)
    assert match and float(match.group(1)) == 60.0
    pids = set(re.findall(r'pid="(\d+)"', text))
    assert "smartshop_build_info" in text
    assert len(pids) <= 2  # liveall/max gauges only; counters are summed without a pid label


def test_one_json_log_line_per_request(live_server):
    requests.get(f"{live_server['url']}/api/users/424242", timeout=5)
    time.sleep(1.2)  # lines go out in batches, every 0.5 s
    lines = [json.loads(line) for line in live_server["log"].read_text().splitlines() if line.startswith("{")]
    entries = [e for e in lines if e.get("path") == "/api/users/424242"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["method"] == "GET" and entry["status"] == 404
    assert entry["route"] == "/api/users/<int:user_id>"
    assert entry["latency_ms"] >= 0


def test_fuzz_no_server_errors_and_true_to_the_document(live_server, tmp_path):
    """schemathesis, from the app's own OpenAPI document, positive and negative data, as the
    operator: no 5xx (except /api/errors/500, excluded), every answer true to the document, invalid
    data rejected, and the operator routes refused without the token."""
    junit = tmp_path / "schemathesis.xml"
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{live_server['url']}/api/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
            "negative_data_rejection,ignored_auth",
            "--header",
            f"Authorization: {OPERATOR['Authorization']}",
            "--exclude-path",
            "/api/errors/500",
            "--max-examples",
            os.environ.get("SMARTSHOP_FUZZ_EXAMPLES", "40"),
            "--seed",
            "20261126",
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "junit",
            "--report-junit-path",
            str(junit),
            "--continue-on-failure",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert junit.exists()
    tested = re.search(r"(\d+) passed", result.stdout)
    assert tested, result.stdout[-3000:]
    assert int(tested.group(1)) >= 20, result.stdout[-3000:]  # every operation but the excluded one


def test_every_line_the_server_writes_is_json(live_server):
    requests.get(f"{live_server['url']}/api/products", timeout=5)
    time.sleep(1.2)
    lines = live_server["log"].read_text().splitlines()
    assert any("granian" in json.loads(line)["logger"] for line in lines), lines[:5]  # its own lines too
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= entry.keys(), entry


def test_a_request_in_flight_when_the_server_is_told_to_stop_is_answered(migrated, mariadb, tmp_path):
    """SIGTERM (docker stop, a rolling update): the workers finish what they hold, then stop."""
    from .conftest import root_connection

    proc, base, _ = _serve(migrated, tmp_path)
    try:
        with requests.Session() as s:
            user = s.post(f"{base}/api/users/create", timeout=5).json()
            order = s.post(f"{base}/api/orders/create/{user['id']}", timeout=5).json()
        holder = root_connection(mariadb, migrated.db_name)
        holder.autocommit(False)
        answers: list = []
        try:
            with holder.cursor() as cur:  # the request waits for this row lock
                cur.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order["id"],))
                url = f"{base}/api/orders/validate/{order['id']}"
                waiting = threading.Thread(target=lambda: answers.append(requests.post(url, timeout=15)))
                waiting.start()
                time.sleep(1)
                proc.send_signal(signal.SIGTERM)
                time.sleep(1)
                assert proc.poll() is None  # still finishing the request
        finally:
            holder.rollback()
            holder.close()
        waiting.join(timeout=15)
        assert answers and answers[0].status_code == 200, answers
        assert answers[0].json()["status"] == "validated"
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
