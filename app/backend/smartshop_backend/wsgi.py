"""The WSGI application gunicorn serves."""

import os

from . import create_app
from .requestlog import configure_logging

configure_logging(os.environ.get("SMARTSHOP_LOG_LEVEL", "INFO"))
app = create_app()
