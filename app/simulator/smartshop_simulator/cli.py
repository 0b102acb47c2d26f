"""smartshop-simulator: traffic for the SmartShop API.

run     non-interactive (automation): a JSON summary is the last line of output
menu    the interactive menu (seed section 8)
worker  a Locust worker for distributed runs (`run --workers N` is the master)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path

# Locust patches the standard library for gevent when imported: it must come before the rest.
import locust  # noqa: F401

from . import __version__
from .driver import drive, progress_line, start_control
from .engine import Simulation, Unreachable, check_api, run_worker
from .model import Config, parse_weights

MODES = {"continuous": None, "intensive": None, "demo": 120.0}


def _rate(text: str) -> float | None:
    if text in ("max", "0", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of requests/s or 'max', got {text!r}") from None
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError("rate must be positive (or 'max')")
    return value


def _seconds(text: str) -> float:
    """Seconds, 0 or more (0 where an option says it means "until stopped")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, got {text}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _port(text: str) -> int:
    value = _count(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port, 0 to 65535, got {value}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_traffic_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--host", default=env("SMARTSHOP_API_URL", "http://127.0.0.1:8000"), help="API base URL")
    parser.add_argument(
        "--rate",
        type=_rate,
        # a string default goes through `type` too: a bad environment value is a usage error, not a traceback
        default=env("SMARTSHOP_SIM_RATE", "20"),
        help="target requests/s for the whole run, or 'max' (default 20)",
    )
    parser.add_argument(
        "--users", type=_count(1), default=None, help="concurrent simulated users (default from the rate)"
    )
    parser.add_argument(
        "--success-ratio",
        type=_ratio,
        default=env("PAYMENT_SUCCESS_RATIO", "0.8"),
        help="share of payments requested as success (default 0.8)",
    )
    parser.add_argument(
        "--error-rate", type=_ratio, default=0.05, help="share of requests sent to the error endpoints (default 0.05)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible runs")
    parser.add_argument(
        "--retries",
        type=_count(0),
        default=env("SMARTSHOP_SIM_RETRIES", "3"),
        help="creations (with an Idempotency-Key) sent again after a 502/503/504 or no answer (default 3)",
    )
    parser.add_argument(
        "--weights",
        type=parse_weights,
        default=None,
        help="behaviour weights, e.g. login=10,create_order=30 (see model.DEFAULT_WEIGHTS)",
    )
    parser.add_argument(
        "--control-port",
        type=_port,
        default=env("SMARTSHOP_SIM_CONTROL_PORT", "0"),
        help="serve GET /status, POST /rate and GET /metrics on this port (0: off)",
    )
    parser.add_argument("--control-bind", default=env("SMARTSHOP_SIM_CONTROL_BIND", "127.0.0.1"))
    parser.add_argument(
        "--operator-token-file",
        default=env("SMARTSHOP_OPERATOR_TOKEN_FILE"),
        help="file holding the API's operator token (requested payment outcomes, error injection, POST /rate);"
        " or set SMARTSHOP_OPERATOR_TOKEN",
    )


def operator_token(args: argparse.Namespace) -> str | None:
    if getattr(args, "operator_token_file", None):
        try:
            return Path(args.operator_token_file).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ValueError(f"--operator-token-file {args.operator_token_file}: {exc.strerror}") from exc
    return os.environ.get("SMARTSHOP_OPERATOR_TOKEN") or None


def config_from(args: argparse.Namespace) -> Config:
    config = Config(
        host=args.host.rstrip("/"),
        rate=args.rate,
        users=args.users,
        success_ratio=args.success_ratio,
        error_rate=args.error_rate,
        seed=args.seed,
        retries=args.retries,
        probe_path=getattr(args, "probe_path", None),
        operator_token=operator_token(args),
        operator_token_file=getattr(args, "operator_token_file", None) or None,
    )
    if args.weights:
        config.weights = args.weights
    config.validate()
    if config.operator_token is None and not config.probe_path:
        print(
            "smartshop-simulator: no operator token (--operator-token-file or SMARTSHOP_OPERATOR_TOKEN): payments"
            " follow the API's own success ratio and no error is injected",
            file=sys.stderr,
        )
        config.error_rate = 0.0
    return config


def cmd_run(args: argparse.Namespace) -> int:
    try:
        config = config_from(args)
        if not args.no_check:
            check_api(config.host)
    except (ValueError, Unreachable) as exc:
        print(f"smartshop-simulator: {exc}", file=sys.stderr)
        return 2
    duration = args.duration if args.duration is not None else MODES[args.mode]
    forever = duration == 0  # --duration 0: run until SIGTERM / Ctrl-C (as a service)
    if forever:
        duration = None
    cycles = args.cycles if args.mode == "intensive" else None
    if args.mode == "intensive" and cycles is None:
        print("smartshop-simulator: --cycles is required in intensive mode", file=sys.stderr)
        return 2
    if args.mode == "continuous" and duration is None and not forever and not sys.stdin.isatty():
        print("smartshop-simulator: give --duration (or run in a terminal and stop with Ctrl-C)", file=sys.stderr)
        return 2
    mode = "master" if args.workers else "local"
    simulation = Simulation(
        config,
        mode=mode,
        expect_workers=args.workers or 0,
        master_bind_host=args.master_bind_host,
        master_bind_port=args.master_bind_port,
    )
    control = start_control(simulation, args.control_bind, args.control_port)
    stop_flag: list = []
    signal.signal(signal.SIGINT, lambda signum, frame: stop_flag.append(True))
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_flag.append(True))

    def tick(snap: dict) -> None:
        if not args.quiet:
            print(progress_line(snap), file=sys.stderr, flush=True)

    try:
        drive(simulation, duration=duration, cycles=cycles, stop=stop_flag, on_tick=tick, tick=args.progress_every)
    except Unreachable as exc:
        print(f"smartshop-simulator: {exc}", file=sys.stderr)
        return 2
    finally:
        summary = simulation.stop()
        if control:
            control.stop()
    print(json.dumps(summary), flush=True)
    return 0 if summary["requests"] else 1


def cmd_menu(args: argparse.Namespace) -> int:
    from .menu import Menu

    try:
        config = config_from(args)
    except ValueError as exc:
        print(f"smartshop-simulator: {exc}", file=sys.stderr)
        return 2
    return Menu(
        config, control_port=args.control_port, control_bind=args.control_bind, demo_seconds=args.demo_seconds
    ).loop()


def cmd_worker(args: argparse.Namespace) -> int:
    print(f"worker: connecting to {args.master_host}:{args.master_port}", file=sys.stderr, flush=True)
    try:
        token = operator_token(args)
    except ValueError as exc:
        print(f"smartshop-simulator: {exc}", file=sys.stderr)
        return 2
    run_worker(
        args.master_host,
        args.master_port,
        operator_token=token,
        operator_token_file=args.operator_token_file or None,
        host=args.host,
        name=args.name,
        heartbeat_file=args.heartbeat_file,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartshop-simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="non-interactive run; JSON summary last")
    add_traffic_options(run)
    run.add_argument("--mode", choices=sorted(MODES), default="continuous")
    run.add_argument(
        "--duration", type=_seconds, default=None, help="seconds (demo: 120 by default; 0: until stopped, as a service)"
    )
    run.add_argument("--cycles", type=_count(1), default=None, help="intensive mode: stop after this many payments")
    run.add_argument("--workers", type=_count(0), default=0, help="be the master of this many workers (distributed)")
    run.add_argument("--master-bind-host", default="0.0.0.0")  # noqa: S104 - workers may be on other hosts
    run.add_argument("--master-bind-port", type=int, default=5557)
    run.add_argument("--progress-every", type=_positive_seconds, default=5.0, help="seconds between progress lines")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--probe-path", default=None, help="benchmark mode: only GET this path (expects 200)")
    run.add_argument("--no-check", action="store_true", help="skip the /api/health check (probe targets)")
    run.set_defaults(func=cmd_run)
    menu = sub.add_parser("menu", help="the interactive menu")
    add_traffic_options(menu)
    menu.add_argument(
        "--demo-seconds", type=_positive_seconds, default=120.0, help="length of the quick demo (default 120)"
    )
    menu.set_defaults(func=cmd_menu)
    worker = sub.add_parser("worker", help="a worker of a distributed run")
    worker.add_argument("--master-host", default=os.environ.get("SMARTSHOP_SIM_MASTER", "127.0.0.1"))
    worker.add_argument("--master-port", type=int, default=5557)
    worker.add_argument("--host", default=None, help="the API as this worker reaches it (default: the master's --host)")
    worker.add_argument("--name", default=None, help="what the master's figures call this worker (default: host name)")
    worker.add_argument(
        "--heartbeat-file", default=None, help="touched at each heartbeat of the master (a healthcheck reads its age)"
    )
    worker.add_argument(
        "--operator-token-file",
        default=os.environ.get("SMARTSHOP_OPERATOR_TOKEN_FILE"),
        help="this worker's copy of the API's operator token (the master never sends it)",
    )
    worker.set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
