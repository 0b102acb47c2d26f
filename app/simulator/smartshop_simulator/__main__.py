# Locust patches the standard library for gevent when imported: first, before anything else.
import locust  # noqa: F401, I001

import sys

from .cli import main

sys.exit(main())
