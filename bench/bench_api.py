"""Benchmarks of the API; each prints figures, the last line one JSON object.

    python bench/bench_api.py mixed [--target both] [--users 16] [--duration 30]   # `make bench-api`
    python bench/bench_api.py stats [--orders 1000000]                             # `make bench-stats`

`mixed` measures, with Locust on the same machine, first the path users use (the running stack's
published API port, 127.0.0.1:8000 by default: docker-proxy, nginx, every replica, MariaDB),
then one backend container reached at its own address. On each it runs the path's ceiling first
(a pooled ping, GET /api/health, same users) and then the shop's mixed journey; `ratio` is
mixed / ceiling, a figure that carries from one machine to another. Each phase also splits the
CPU its requests cost between the parts of the stack (bench/cpu.py: each component's containers,
the load generator, the rest of the machine), in ms per request: what separates the mixed journey
from its ceiling. The JSON has the path's figures at the top level (`cpu_ms_per_request`,
`ceiling_cpu_ms_per_request`) and the container's under "container".

The container runs, and `stats`, start their own stack (MariaDB on a volume, the migration, one
backend container with granian 2 workers x 4 threads) under the prefix smartshop-bench and
remove it after. The mixed journey writes users and orders into the stack it measures.
"""

from __future__ import annotations

import os

# Name lookups in the calling greenlet (every address a benchmark uses is numeric). With gevent's
# default resolver thread, ansible-core's import-time probe of getaddrinfo (a port that is an int
# subclass, refused on purpose, and handled by ansible) printed a traceback as the bench started.
os.environ.setdefault("GEVENT_RESOLVER", "block")

import gevent.monkey

gevent.monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import docker  # noqa: E402
import requests  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu import CpuMeter, line, per_request  # noqa: E402
from testing import stack as containers  # noqa: E402

DEFAULT_TOKEN = Path.home() / ".smartshop" / "secrets" / "localhost" / "api_operator_token"


def _locust(user_class, host: str, users: int, duration: float, meter: CpuMeter) -> tuple[dict, object]:
    """Run `user_class` against `host` for `duration` s after a 2 s warm-up; the totals (with the CPU
    each part of the stack spent per request over the same window) and the stats."""
    from locust.env import Environment

    env = Environment(user_classes=[user_class], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(2)  # warm-up: pools fill, workers start
    env.stats.reset_all()
    before = meter.snapshot()
    started = time.monotonic()
    gevent.sleep(duration)
    elapsed = time.monotonic() - started
    total = env.stats.total
    cpu = per_request(before, meter.snapshot(), total.num_requests)
    result = {
        "rps": round(total.num_requests / elapsed, 1),
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "unexpected_errors": total.num_failures,
        "requests": total.num_requests,
        "duration_s": round(elapsed, 1),
        "users": users,
        "cpu_ms_per_request": cpu,
    }
    runner.quit()
    return result, env.stats


def measure(host: str, operator: dict[str, str], users: int, duration: float, label: str, meter: CpuMeter) -> dict:
    """The ceiling of a path (a pooled ping, GET /api/health) then the mixed journey over it, each with
    the CPU its request cost, part by part (what separates the two figures)."""
    from locustfile_api import PingUser, ShopUser

    ceiling, _ = _locust(PingUser, host, users, duration, meter)
    print(
        f"{label}: ceiling (GET /api/health) {ceiling['rps']} req/s, p99 {ceiling['p99_ms']} ms,"
        f" {ceiling['unexpected_errors']} errors"
    )
    print(f"{label}: ceiling, CPU per request: {line(ceiling['cpu_ms_per_request'])}")
    ShopUser.operator = operator  # the error calls are operator routes
    result, stats = _locust(ShopUser, host, users, duration, meter)
    print(f"{label}: mixed {result['rps']} req/s")
    print(f"{label}: mixed, CPU per request: {line(result['cpu_ms_per_request'])}")
    print(f"{'request':<14}{'count':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'fails':>7}")
    for name, entry in sorted(stats.entries.items()):
        print(
            f"{name[0]:<14}{entry.num_requests:>8}{entry.get_response_time_percentile(0.5):>8}"
            f"{entry.get_response_time_percentile(0.95):>8}{entry.get_response_time_percentile(0.99):>8}"
            f"{entry.num_failures:>7}"
        )
    for error in stats.errors.values():
        print(f"unexpected: {error.name} {error.error} x{error.occurrences}")
    result["ceiling_rps"] = ceiling["rps"]
    result["ceiling_p99_ms"] = ceiling["p99_ms"]
    result["ceiling_cpu_ms_per_request"] = ceiling["cpu_ms_per_request"]
    result["ratio"] = round(result["rps"] / ceiling["rps"], 2) if ceiling["rps"] else 0.0
    result["target"] = host
    return result


def published_path(url: str, token_file: Path) -> tuple[str, dict[str, str]]:
    """The running stack's API as users reach it (`make up`), with its operator token."""
    try:
        health = requests.get(f"{url}/api/health", timeout=5)
    except requests.RequestException as exc:
        raise SystemExit(f"bench-api: nothing answers at {url} ({exc.__class__.__name__}); run `make up`") from None
    if health.status_code != 200:
        raise SystemExit(f"bench-api: {url}/api/health answered {health.status_code}; run `make verify`")
    try:
        token = token_file.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        raise SystemExit(f"bench-api: cannot read the operator token in {token_file}") from None
    if token.startswith("$ANSIBLE_VAULT"):
        raise SystemExit(f"bench-api: {token_file} is in Ansible Vault; give --token-file a clear copy")
    return url, {"Authorization": f"Bearer {token}"}


def stack_project(client, url: str) -> str | None:
    """The site.yml project (label com.smartshop.project) of the container publishing the URL's port."""
    port = str(urlsplit(url).port or 80)
    for container in client.containers.list():
        for bindings in (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
            if any(binding.get("HostPort") == port for binding in bindings or []):
                return (container.labels or {}).get("com.smartshop.project")
    return None


SEED_SQL = """
SET SESSION foreign_key_checks = 0;
INSERT INTO users (username, created_at) SELECT CONCAT('bench', seq), UTC_TIMESTAMP() - INTERVAL seq MINUTE
  FROM seq_1_to_{users};
INSERT INTO orders (user_id, product_id, quantity, amount, status, created_at, updated_at)
  SELECT 1 + seq % {users}, 1 + seq % 8, 1, 39.99,
         ELT(1 + seq % 6, 'pending','validated','processing','paid','payment_failed','cancelled'),
         UTC_TIMESTAMP() - INTERVAL seq SECOND, UTC_TIMESTAMP() - INTERVAL seq SECOND
  FROM seq_1_to_{orders};
INSERT INTO payments (order_id, status, amount, created_at)
  SELECT id, IF(status = 'paid', 'success', 'failed'), amount, created_at FROM orders
  WHERE status IN ('paid', 'payment_failed');
INSERT INTO counters (name, bucket, shard, value)
  SELECT 'users', '1970-01-01', 0, COUNT(*) FROM users
  UNION ALL SELECT 'orders', '1970-01-01', 0, COUNT(*) FROM orders
  UNION ALL SELECT CONCAT('orders_', status), '1970-01-01', 0, COUNT(*) FROM orders GROUP BY status
  UNION ALL SELECT CONCAT('payments_', status), '1970-01-01', 0, COUNT(*) FROM payments GROUP BY status
  ON DUPLICATE KEY UPDATE value = value + VALUES(value);
INSERT INTO counters (name, bucket, shard, value)
  SELECT 'orders', DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:00'), 0, COUNT(*) FROM orders
  WHERE created_at > UTC_TIMESTAMP() - INTERVAL 2 HOUR GROUP BY 2
  ON DUPLICATE KEY UPDATE value = value + VALUES(value);
"""

FULL_COUNT_SQL = (
    "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM orders WHERE status='pending'),"
    " (SELECT COUNT(*) FROM payments WHERE status='success'), (SELECT COUNT(*) FROM payments WHERE status='failed'),"
    " (SELECT COUNT(*) FROM orders WHERE created_at > UTC_TIMESTAMP() - INTERVAL 60 MINUTE)"
)


def stats_bench(stack: containers.Stack, orders: int, samples: int) -> dict:
    db = next(c for c in stack.containers if c.name.endswith("-mysql"))
    root = next(e.split("=", 1)[1] for e in db.attrs["Config"]["Env"] if e.startswith("MARIADB_ROOT_PASSWORD="))
    users = max(orders // 10, 1)
    started = time.monotonic()
    code, out = db.exec_run(
        ["mariadb", "-uroot", f"-p{root}", "smartshop", "-e", SEED_SQL.format(users=users, orders=orders)]
    )
    if code != 0:
        raise SystemExit(out.decode())
    print(f"seeded {users} users and {orders} orders in {time.monotonic() - started:.1f} s")
    session = requests.Session()
    body = session.get(f"{stack.backend}/api/stats", timeout=10).json()
    assert body["total_orders"] == orders, body
    for _ in range(50):
        session.get(f"{stack.backend}/api/stats", timeout=10)
    latencies = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = session.get(f"{stack.backend}/api/stats", timeout=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    latencies.sort()
    # the seed's way (counting whole tables per request), timed inside the server
    code, out = db.exec_run(
        [
            "mariadb",
            "-uroot",
            f"-p{root}",
            "smartshop",
            "-N",
            "-e",
            f"SET @t = NOW(6); {FULL_COUNT_SQL} INTO @a, @b, @c, @d, @e;"
            " SELECT TIMESTAMPDIFF(MICROSECOND, @t, NOW(6)) / 1000",
        ]
    )
    full_ms = float(out.decode().split()[-1]) if code == 0 else -1.0
    return {
        "orders": orders,
        "samples": samples,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "seed_style_full_counts_ms": round(full_ms, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    m = sub.add_parser("mixed")
    m.add_argument("--users", type=int, default=int(os.environ.get("USERS", "16")))
    m.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", "30")))
    m.add_argument(
        "--target",
        choices=["path", "container", "both"],
        default=os.environ.get("TARGET", "both"),
        help="path: the running stack's published API (--url); container: one backend container; both (default)",
    )
    m.add_argument("--url", default=os.environ.get("API_URL", "http://127.0.0.1:8000"))
    m.add_argument("--token-file", type=Path, default=Path(os.environ.get("OPERATOR_TOKEN_FILE", DEFAULT_TOKEN)))
    m.add_argument("--workers", default=os.environ.get("WORKERS", "2"), help="container: granian workers (2)")
    m.add_argument("--threads", default=os.environ.get("THREADS", "4"), help="container: threads per worker (4)")
    s = sub.add_parser("stats")
    s.add_argument("--orders", type=int, default=int(os.environ.get("ORDERS", "1000000")))
    s.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()

    result: dict = {}
    if args.bench == "mixed" and args.target in ("path", "both"):
        url, operator = published_path(args.url.rstrip("/"), args.token_file)
        client = docker.from_env()
        meter = CpuMeter(client, project=stack_project(client, url))
        result = measure(url, operator, args.users, args.duration, f"path {url}", meter)
    if args.bench == "stats" or args.target in ("container", "both"):
        backend_env = {
            "SMARTSHOP_WORKERS": str(getattr(args, "workers", 2)),
            "SMARTSHOP_THREADS": str(getattr(args, "threads", 4)),
        }
        stack = containers.start(
            docker.from_env(),
            containers.manifest_images(),
            "smartshop-bench",
            replicas=1,
            db_tmpfs=False,
            backend_env=backend_env,
        )
        try:
            if args.bench == "stats":
                result = stats_bench(stack, args.orders, args.samples)
            else:
                # straight to the container's address: docker-proxy would take CPU from the API
                meter = CpuMeter(docker.from_env(), prefix="smartshop-bench")
                one = measure(stack.backend_direct, stack.operator, args.users, args.duration, "one container", meter)
                result = {**result, "container": one} if result else one
        finally:
            stack.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
