"""Service-level objectives as data: from a short spec, the recording rules and the multiwindow,
multi-burn-rate alerts of the Google SRE workbook ("Alerting on SLOs").

Each SLO names its ratio as two PromQL expressions over a window, ``errors`` and ``total``
(``$window`` stands for the window), its ``objective`` (0.995: 99.5 % of the events are good) and
the ``alert`` that fires when its error budget burns too fast. For every window the tiers use, a
recording rule ``slo:<name>:error_ratio_rate<window>`` (and the event rate of each long window, for
the minimum-traffic guard); for every tier an alert that fires when both the long and the short
window burn faster than the tier's rate, with labels ``severity``, ``slo``, ``tier`` and
``long_window`` (Alertmanager routes by the first and inhibits slower tiers by the third):

    {{ prometheus_slos | smartshop.stack.slo_rules(prometheus_slo_tiers, prometheus_slo_min_rate) }}

Also recorded: the error ratio over the SLO's ``period`` (30d by default) and
``slo:<name>:error_budget_remaining``, what the SLO dashboard shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

WINDOW = re.compile(r"^[0-9]+[smhdw]$")
NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
ALERT = re.compile(r"^[A-Z][A-Za-z0-9]*$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _seconds(window: str) -> int:
    return int(window[:-1]) * SECONDS[window[-1]]


def _check(slos: Sequence[Mapping], tiers: Sequence[Mapping]) -> None:
    if not tiers:
        raise AnsibleFilterError("slo_rules: at least one tier is needed")
    for number, tier in enumerate(tiers, 1):
        for key in ("severity", "burn_rate", "long", "short", "for"):
            if key not in tier:
                raise AnsibleFilterError(f"slo_rules: tier {number} has no {key}")
        for key in ("long", "short", "for"):
            if not WINDOW.match(str(tier[key])):
                raise AnsibleFilterError(f"slo_rules: tier {number}: {key} {tier[key]!r} is not a duration like 5m")
        if _seconds(tier["short"]) >= _seconds(tier["long"]):
            raise AnsibleFilterError(f"slo_rules: tier {number}: the short window must be shorter than the long")
        if float(tier["burn_rate"]) <= 0:
            raise AnsibleFilterError(f"slo_rules: tier {number}: burn_rate must be positive")
    names = set()
    for slo in slos:
        for key in ("name", "alert", "objective", "errors", "total"):
            if key not in slo:
                raise AnsibleFilterError(f"slo_rules: an SLO has no {key}: {dict(slo)}")
        if not NAME.match(str(slo["name"])) or slo["name"] in names:
            raise AnsibleFilterError(f"slo_rules: SLO name {slo['name']!r} must be unique, lower case")
        names.add(slo["name"])
        if not ALERT.match(str(slo["alert"])):
            raise AnsibleFilterError(f"slo_rules: alert {slo['alert']!r} must be CamelCase")
        if not 0 < float(slo["objective"]) < 1:
            raise AnsibleFilterError(f"slo_rules: {slo['name']}: objective must be between 0 and 1 (0.995 = 99.5 %)")
        for key in ("errors", "total"):
            if "$window" not in str(slo[key]):
                raise AnsibleFilterError(f"slo_rules: {slo['name']}: {key} must use $window")


def _number(value: float) -> str:
    return f"{value:.6g}"


def slo_rules(slos: Sequence[Mapping], tiers: Sequence[Mapping], min_rate: float = 0.0) -> dict:
    """{"recording": [...], "alerting": [...]} for Prometheus' rule groups."""
    _check(slos, tiers)
    tier_windows = {str(t[k]) for t in tiers for k in ("long", "short")}
    recording, alerting = [], []
    for slo in slos:
        metric = "slo:" + str(slo["name"]).replace("-", "_")
        budget = 1 - float(slo["objective"])
        period = str(slo.get("period", "30d"))
        if not WINDOW.match(period):
            raise AnsibleFilterError(f"slo_rules: {slo['name']}: period {period!r} is not a duration like 30d")
        for window in sorted(tier_windows | {period}, key=_seconds):
            errors = str(slo["errors"]).replace("$window", window).strip()
            total = str(slo["total"]).replace("$window", window).strip()
            recording.append(
                {"record": f"{metric}:error_ratio_rate{window}", "expr": f"({errors} or vector(0)) / ({total})"}
            )
        for window in sorted({str(t["long"]) for t in tiers}, key=_seconds):
            recording.append(
                {
                    "record": f"{metric}:events_rate{window}",
                    "expr": str(slo["total"]).replace("$window", window).strip(),
                }
            )
        # the share of the period's error budget not spent yet (negative: overspent)
        remaining = f"1 - {metric}:error_ratio_rate{period} / {_number(budget)}"
        recording.append({"record": f"{metric}:error_budget_remaining", "expr": remaining})
        objective = _number(float(slo["objective"]) * 100)
        for number, tier in enumerate(tiers, 1):
            threshold = _number(float(tier["burn_rate"]) * budget)
            long, short = str(tier["long"]), str(tier["short"])
            recording_long, recording_short = f"{metric}:error_ratio_rate{long}", f"{metric}:error_ratio_rate{short}"
            expr = f"{recording_long} > {threshold} and {recording_short} > {threshold}"
            if min_rate:
                expr += f" and on() {metric}:events_rate{long} > {_number(float(min_rate))}"
            alerting.append(
                {
                    "alert": str(slo["alert"]),
                    "expr": expr,
                    "for": str(tier["for"]),
                    "labels": {
                        "severity": str(tier["severity"]),
                        "slo": str(slo["name"]),
                        "tier": str(number),
                        "long_window": long,
                    },
                    "annotations": {
                        "summary": (
                            f"{slo.get('description', slo['name'])}: the error budget burns "
                            f"{_number(float(tier['burn_rate']))}x too fast over {long} and {short}"
                        ),
                        "description": (
                            f"{{{{ $value | humanizePercentage }}}} of events failed over {long} "
                            f"(objective {objective} %, budget {_number(budget * 100)} % over "
                            f"{slo.get('period', '30d')}); at this rate the budget is gone in "
                            f"{_number(_seconds(str(slo.get('period', '30d'))) / float(tier['burn_rate']) / 3600)} h."
                        ),
                    },
                }
            )
    return {"recording": recording, "alerting": alerting}


class FilterModule:
    def filters(self):
        return {"slo_rules": slo_rules}
