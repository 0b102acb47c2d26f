"""SmartShop traffic simulator on Locust: the seed's menu, an automation CLI, runtime rate control.

The command-line entry (cli.py) imports Locust first, so that gevent patches the standard
library before anything else loads; model.py and pacer.py stay importable without it.
"""

__version__ = "1.0.0"
