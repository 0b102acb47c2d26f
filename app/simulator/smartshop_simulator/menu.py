"""The interactive menu of the seed (section 8), with a live view while traffic runs.

While traffic runs: type a number and Enter to set the rate, '+' / '-' to change it by 25 %,
'q' and Enter (or Ctrl-C) to stop and return to the menu with a summary.
"""

from __future__ import annotations

import json
import signal
import sys
import time

import requests
from gevent import select

from .driver import drive, progress_line, start_control
from .engine import Simulation, Unreachable, check_api
from .model import Config

MENU = """
=== SmartShop — simulateur de trafic ===
1. Simulation automatique (continue)
2. Simulation intensive (nombre de cycles)
3. Démo rapide (2 minutes)
4. Voir les statistiques
5. Tester l'API
6. Voir les logs
7. Quitter"""


class Menu:
    def __init__(
        self,
        config: Config,
        control_port: int = 0,
        control_bind: str = "127.0.0.1",
        out=sys.stdout,
        demo_seconds: float = 120.0,
    ) -> None:
        self.config = config
        self.control_port = control_port
        self.control_bind = control_bind
        self.out = out
        self.demo_seconds = demo_seconds

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def ask(self, prompt: str) -> str | None:
        try:
            return input(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            return None

    def loop(self) -> int:
        self.say(f"API: {self.config.host}")
        while True:
            self.say(MENU)
            choice = self.ask("Choix [1-7]: ")
            if choice is None or choice == "7":
                self.say("Au revoir.")
                return 0
            action = {
                "1": self.continuous,
                "2": self.intensive,
                "3": self.demo,
                "4": self.show_stats,
                "5": self.test_api,
                "6": self.show_logs,
            }.get(choice)
            if action is None:
                self.say(f"Choix inconnu: {choice!r} (1 à 7).")
                continue
            try:
                action()
            except Unreachable as exc:
                self.say(f"Erreur: {exc}")
            except requests.RequestException as exc:
                self.say(f"Erreur: l'API ne répond pas ({type(exc).__name__})")

    # -- traffic -----------------------------------------------------------------------------
    def continuous(self) -> None:
        self.traffic(duration=None, cycles=None, title="Simulation continue")

    def intensive(self) -> None:
        answer = self.ask("Nombre de cycles (paiements) [100]: ")
        if answer is None:
            return
        try:
            cycles = int(answer or "100")
            if cycles <= 0:
                raise ValueError
        except ValueError:
            self.say(f"Nombre de cycles invalide: {answer!r}")
            return
        self.traffic(duration=None, cycles=cycles, title=f"Simulation intensive ({cycles} cycles)")

    def demo(self) -> None:
        self.traffic(duration=self.demo_seconds, cycles=None, title="Démo rapide")

    def traffic(self, duration: float | None, cycles: int | None, title: str) -> None:
        check_api(self.config.host)
        simulation = Simulation(Config(**self.config.__dict__))
        control = start_control(simulation, self.control_bind, self.control_port)
        self.say(f"--- {title} --- nombre + Entrée: débit, +/-: ±25 %, q + Entrée ou Ctrl-C: retour au menu")
        stop: list = []

        def read_keyboard(seconds: float) -> None:
            readable, _, _ = select.select([sys.stdin], [], [], seconds)
            if readable:
                self._command(sys.stdin.readline(), simulation, stop)

        # a plain Python handler: it runs in the main thread whichever greenlet is current
        previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.append("ctrl-c"))
        try:
            drive(
                simulation,
                duration=duration,
                cycles=cycles,
                stop=stop,
                on_tick=lambda snap: self.say(progress_line(snap)),
                wait=read_keyboard,
            )
        finally:
            summary = simulation.stop()
            if control:
                control.stop()
            signal.signal(signal.SIGINT, previous)
        self.say(
            f"--- Résumé: {summary['requests']} requêtes, {summary['achieved_rps']} req/s, "
            f"utilisateurs {summary['users_created']}, commandes {summary['orders_created']}, "
            f"paiements {summary['payments']['success']}✓ {summary['payments']['failed']}✗, "
            f"erreurs inattendues {sum(summary['failures_by_code'].values())}"
        )

    def _command(self, line: str, simulation: Simulation, stop: list) -> None:
        text = line.strip().lower()
        if text in ("", None):
            return
        if text in ("q", "quit", "stop"):
            stop.append("q")
            return
        current = simulation.config.rate or 50.0
        try:
            rate = current * 1.25 if text == "+" else current / 1.25 if text == "-" else float(text)
            simulation.set_rate(round(rate, 2))
            self.say(f">>> débit demandé: {round(rate, 2)} req/s")
        except ValueError:
            self.say(f">>> commande inconnue: {text!r}")

    # -- views -------------------------------------------------------------------------------
    def show_stats(self) -> None:
        stats = requests.get(f"{self.config.host}/api/stats", timeout=5).json()
        self.say(json.dumps(stats, indent=2, ensure_ascii=False))

    def test_api(self) -> None:
        checks = [
            ("GET", "/", 200),
            ("GET", "/api/health", 200),
            ("GET", "/api/stats", 200),
            ("GET", "/api/products", 200),
            ("GET", "/api/errors/404", 404),
            ("GET", "/api/errors/500", 500),
        ]
        failures = 0
        for method, path, expected in checks:
            started = time.perf_counter()
            headers = self.config.operator_headers if path.startswith("/api/errors/") else {}
            status = requests.request(method, f"{self.config.host}{path}", headers=headers, timeout=5).status_code
            ok = status == expected
            failures += not ok
            self.say(
                f"{'OK ' if ok else 'KO '} {method} {path} -> {status} "
                f"({(time.perf_counter() - started) * 1000:.1f} ms, attendu {expected})"
            )
        self.say("API OK" if not failures else f"{failures} vérification(s) en échec")

    def show_logs(self) -> None:
        entries = requests.get(f"{self.config.host}/api/activity?limit=20", timeout=5).json()["entries"]
        for entry in reversed(entries):
            self.say(f"{entry['created_at'][11:19]} {entry['text']}")
