"""Simulator unit tests: seeded randomness, no network."""

import random
import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest
from testing.stack import free_port

from smartshop_simulator.model import DEFAULT_WEIGHTS, Config, Shopper, parse_weights
from smartshop_simulator.pacer import Pacer


def test_pacer_spaces_requests_at_the_rate():
    pacer = Pacer(200.0)
    started = time.monotonic()
    for _ in range(100):
        pacer.acquire()
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed <= 0.7  # 100 slots at 200/s: 0.5 s


def test_pacer_rate_changes_at_once_and_none_is_unlimited():
    pacer = Pacer(10.0)
    pacer.set_rate(None)
    started = time.monotonic()
    for _ in range(1000):
        pacer.acquire()
    assert time.monotonic() - started < 0.2
    with pytest.raises(ValueError, match="positive"):
        pacer.set_rate(0)


def test_pacer_shared_by_greenlets():
    pacer = Pacer(100.0)
    started = time.monotonic()
    gevent.joinall([gevent.spawn(lambda: [pacer.acquire() for _ in range(10)]) for _ in range(5)])
    assert 0.4 <= time.monotonic() - started <= 0.65  # 50 slots at 100/s


def test_error_rate_and_payment_ratio_follow_the_config():
    config = Config(host="http://x", error_rate=0.1, success_ratio=0.8, seed=3)
    shopper = Shopper(config, random.Random(3))
    shopper.user_id = 1
    actions = [shopper.next_action() for _ in range(20_000)]
    errors = sum(a.startswith("error_") for a in actions) / len(actions)
    assert abs(errors - 0.1) < 0.01
    outcomes = [shopper.payment_outcome() for _ in range(20_000)]
    assert abs(outcomes.count("success") / len(outcomes) - 0.8) < 0.01


def test_first_action_creates_the_account():
    shopper = Shopper(Config(host="http://x", error_rate=0.0), random.Random(1))
    assert shopper.next_action() == "new_user"


def test_same_seed_same_choices():
    def draws(seed):
        shopper = Shopper(Config(host="http://x"), random.Random(seed))
        shopper.user_id = 1
        return [shopper.next_action() for _ in range(50)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_weights_parse_and_validate():
    weights = parse_weights("login=1,create_order=50")
    assert weights["login"] == 1 and weights["create_order"] == 50
    assert weights["stats"] == DEFAULT_WEIGHTS["stats"]
    with pytest.raises(ValueError, match="name=number"):
        parse_weights("login=lots")
    with pytest.raises(ValueError, match="unknown weights"):
        Config(host="http://x", weights={"teleport": 1}).validate()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", -1, "rate"),
        ("success_ratio", 1.5, "success ratio"),
        ("error_rate", 2, "error rate"),
        ("users", 0, "users"),
    ],
)
def test_bad_config_names_the_setting(field, value, message):
    config = Config(host="http://x")
    setattr(config, field, value)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_user_count_follows_the_rate():
    assert Config(host="x", rate=20).user_count() == 4
    assert Config(host="x", rate=2000).user_count() == 200
    assert Config(host="x", rate=20, users=9).user_count() == 9


def test_the_package_has_no_import_cycle():
    """cli and menu both use the driver; neither imports the other at module level."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "smartshop_simulator"
    imports = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        imports[path.stem] = {
            node.module.split(".")[0]
            for node in tree.body  # module level only: a lazy import inside a function is no cycle
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        }

    def reaches(start, target, seen=()):
        return any(dep == target or (dep not in seen and reaches(dep, target, (*seen, dep))) for dep in imports[start])

    cycles = [module for module in imports if reaches(module, module)]
    assert cycles == []
    assert "cli" not in imports["menu"] and "driver" in imports["menu"] and "driver" in imports["cli"]


class _FakeSimulation:
    """One more completed payment each time the driver looks; the driver's loop is what is tested
    (the engine has its own tests against the containerised API)."""

    def __init__(self):
        self.started, self.ticks = False, 0

    def start(self):
        self.started = True

    def snapshot(self):
        return {"ticks": self.ticks}

    def totals(self):
        self.ticks += 1
        return {"payments": {"success": self.ticks, "failed": 0}}


def test_the_driver_stops_after_the_cycles_asked_for():
    from smartshop_simulator.driver import drive

    simulation, waited = _FakeSimulation(), []
    drive(simulation, duration=None, cycles=3, stop=[], wait=waited.append, tick=0.5)
    assert simulation.started and simulation.ticks == 3 and waited == [0.5, 0.5, 0.5]


def test_the_driver_stops_when_asked_and_reports_each_tick():
    from smartshop_simulator.driver import drive

    simulation, stop, seen = _FakeSimulation(), [], []

    def on_tick(snap):
        seen.append(snap)
        if len(seen) == 2:
            stop.append("q")

    drive(simulation, duration=None, cycles=None, stop=stop, on_tick=on_tick, wait=lambda s: None)
    assert len(seen) == 2


def test_a_stop_is_seen_within_a_second_while_progress_is_reported_once_a_tick():
    """SIGTERM appends to `stop`: with a tick of a minute (the role's --progress-every 60) the driver
    still looks every second, and reports progress once per 60 s of waiting."""
    from smartshop_simulator.driver import STOP_POLL, drive

    simulation, stop, waited, seen = _FakeSimulation(), [], [], []

    def wait(seconds):
        waited.append(seconds)
        if len(waited) == 150:
            stop.append("SIGTERM")

    drive(simulation, duration=None, cycles=None, stop=stop, on_tick=seen.append, tick=60, wait=wait)
    assert STOP_POLL == 1.0 and waited == [1.0] * 150
    assert len(seen) == 2  # at 60 s and 120 s


def test_a_rotated_operator_token_applies_without_a_restart(tmp_path):
    token = tmp_path / "operator_token"
    token.write_text("first-token-0123456789\n")
    config = Config(host="http://x", operator_token="first-token-0123456789", operator_token_file=str(token))
    assert config.operator_headers == {"Authorization": "Bearer first-token-0123456789"}
    replacement = tmp_path / "new"
    replacement.write_text("second-token-0123456789\n")
    replacement.replace(token)  # as Ansible writes it: a new file moved over the old one
    assert config.operator_headers == {"Authorization": "Bearer second-token-0123456789"}
    token.write_text("")  # an emptied or missing file keeps the token read before
    assert config.current_operator_token() == "second-token-0123456789"
    token.unlink()
    assert config.current_operator_token() == "second-token-0123456789"


def simulator(*argv: str) -> subprocess.CompletedProcess:
    """The CLI in its own process (importing it here would let Locust patch a running interpreter)."""
    return subprocess.run(
        [sys.executable, "-m", "smartshop_simulator", *argv],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--duration", "-1"], "argument --duration: must be a number of seconds, 0 or more, got -1"),
        (["--duration", "nan"], "argument --duration: must be a number of seconds, 0 or more, got nan"),
        (["--duration", "soon"], "argument --duration: must be a number of seconds, got 'soon'"),
        (["--cycles", "0"], "argument --cycles: must be at least 1, got 0"),
        (["--workers", "-2"], "argument --workers: must be at least 0, got -2"),
        (["--progress-every", "0"], "argument --progress-every: must be more than 0 seconds"),
        (["--rate", "fast"], "argument --rate: must be a number of requests/s or 'max', got 'fast'"),
        (["--users", "0"], "argument --users: must be at least 1, got 0"),
        (["--retries", "-1"], "argument --retries: must be at least 0, got -1"),
        (["--control-port", "70000"], "argument --control-port: must be a port, 0 to 65535, got 70000"),
        (["--success-ratio", "most"], "argument --success-ratio: must be a number between 0 and 1, got 'most'"),
    ],
)
def test_run_refuses_counts_and_durations_that_mean_nothing(argv, says):
    """--duration -1 ran 4 requests and reported 5,753.9 req/s achieved."""
    result = simulator("run", "--host", "http://127.0.0.1:1", *argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SMARTSHOP_SIM_RATE", "abc", "argument --rate: must be a number of requests/s or 'max', got 'abc'"),
        ("PAYMENT_SUCCESS_RATIO", "2", "argument --success-ratio: must be between 0 and 1, got 2"),
        ("SMARTSHOP_SIM_RETRIES", "x", "argument --retries: must be a whole number, got 'x'"),
    ],
)
def test_a_bad_default_from_the_environment_is_a_usage_error(monkeypatch, variable, value, says):
    """The options' defaults come from the container's environment: a bad one was a traceback."""
    monkeypatch.setenv(variable, value)
    result = simulator("run", "--host", "http://127.0.0.1:1", "--duration", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


# Run in its own interpreter: locust must patch gevent before ssl is imported, which pytest's
# plugins have already done in this process.
HELLO_DURING_START = """
import locust  # first: it patches the standard library for gevent

import sys
from types import SimpleNamespace

from smartshop_simulator.engine import CONFIGURE, Simulation
from smartshop_simulator.model import Config

simulation = Simulation(Config(host="http://127.0.0.1:9", rate=10.0, error_rate=0.0), mode="master",
                        master_bind_port=int(sys.argv[1]))
sent = []

def send_message(kind, data=None, client_id=None):
    sent.append((kind, client_id))
    if kind == CONFIGURE and client_id is None:  # the broadcast: the worker's HELLO lands now
        simulation._on_hello(simulation.env, SimpleNamespace(node_id="late-handler"))

simulation.runner.send_message = send_message
simulation.start()
simulation.stop()
simulation.runner.quit()
print(sorted(c for k, c in sent if k == CONFIGURE and c))
"""


def test_a_worker_whose_hello_comes_while_the_run_starts_is_configured():
    """The master's CONFIGURE may reach a worker before the worker's handler exists (lost); the
    worker's HELLO, which follows, must then be answered even though the users have not started yet
    (CI once had a worker run a whole run unconfigured: 0 requests). The master is real (its socket
    on 127.0.0.1); the HELLO is delivered at the worst moment, right after the broadcast."""
    done = subprocess.run(
        [sys.executable, "-c", HELLO_DURING_START, str(free_port())],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['late-handler']", done.stdout + done.stderr[-2000:]
