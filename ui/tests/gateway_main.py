"""Run the real gateway with the forge's real repository store (for the browser tests).

``paastech-server gateway`` answers 503 to project creation until the forge is wired in;
this launcher wires the platform's own :class:`~paastech.forge.repos.GitRepoStore` (bare
repos under the state dir) so a project can be created end to end. Settings come from
``PAASTECH_*`` variables like any entry point. Tests may use the server package; the
dashboard's ``src`` never does.
"""

from __future__ import annotations

import os

from paastech.forge.repos import GitRepoStore
from paastech.gateway.app import run
from paastech.services import Services
from paastech.settings import load_settings

if __name__ == "__main__":
    settings = load_settings(os.environ)
    run(settings, Services(repos=GitRepoStore.for_state_dir(settings.state_path)))
