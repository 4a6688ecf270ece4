"""``python -m paastech.gateway``: serve the gateway with settings from the environment."""

from __future__ import annotations

import os

from paastech.gateway.app import run
from paastech.settings import load_settings

if __name__ == "__main__":
    run(load_settings(os.environ))
