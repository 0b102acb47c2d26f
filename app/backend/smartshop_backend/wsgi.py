"""The WSGI application the server (server.py) runs: imported once in each worker process, which
then prunes what only served recent figures (prune.py; one worker at a time, under a lock)."""

import os

from . import create_app
from .prune import start_background
from .requestlog import configure_logging

configure_logging(os.environ.get("SMARTSHOP_LOG_LEVEL", "INFO"))
app = create_app()
start_background(app.extensions["smartshop.db"], app.config["SMARTSHOP_SETTINGS"])
