"""The app served by gunicorn (2 workers x 4 threads), as in the image: metrics across workers,
JSON access logs, and schemathesis fuzzing the live app from its own OpenAPI document."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from testing.stack import free_port

from .conftest import OPERATOR, OPERATOR_TOKEN, SCRAPE_PASSWORD

BACKEND = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def live_server(migrated, tmp_path_factory):
    port = free_port()
    multiproc = tmp_path_factory.mktemp("prom")
    log_path = tmp_path_factory.mktemp("log") / "gunicorn.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(BACKEND),
        "SMARTSHOP_DB_HOST": migrated.db_host,
        "SMARTSHOP_DB_PORT": str(migrated.db_port),
        "SMARTSHOP_DB_USER": migrated.db_user,
        "SMARTSHOP_DB_PASSWORD": migrated.db_password,
        "SMARTSHOP_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "SMARTSHOP_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "SMARTSHOP_SCRAPE_PASSWORD": SCRAPE_PASSWORD,
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(gunicorn), "-c", "python:smartshop_backend.gunicorn_conf", "smartshop_backend.wsgi:app"],
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
            pytest.fail(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
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
