"""The linear strategy, run over Mitogen when the controller has it (requirements-dev.txt pins it).

Mitogen keeps one Python interpreter per target and sends it each module once, instead of a new
process and a zipped module per task: an idempotent `make up` takes about a third of the time
(docs/measurements.md). Without the package (an interpreter outside .venv), the plain linear
strategy runs, and says so once. ANSIBLE_STRATEGY=linear turns Mitogen off for a run.
"""

from __future__ import annotations

try:
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule as _Linear
    from ansible.utils.display import Display

    class StrategyModule(_Linear):
        def __init__(self, tqm):
            Display().warning(
                "Mitogen is not installed in this interpreter: the plain linear strategy runs "
                "(slower). `make setup` installs it into .venv."
            )
            super().__init__(tqm)
