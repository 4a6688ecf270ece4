"""Run the real gateway with the forge's real repository store (for the browser tests).

``paastech-server gateway`` answers 503 to project creation until the forge is wired in;
this launcher wires the platform's own :class:`~paastech.forge.repos.GitRepoStore` (bare
repos under the state dir) so a project can be created end to end, and the scheduler's
real read side (instances and logs from Nomad, :class:`RuntimeReads`); deploys, scale and
delete stay unavailable (503) here. Settings come from ``PAASTECH_*`` variables like any
entry point. Tests may use the server package; the dashboard's ``src`` never does.
"""

from __future__ import annotations

import os

from paastech.forge.repos import GitRepoStore
from paastech.gateway.app import run
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.runtime import ComposedScheduler, RuntimeReads
from paastech.services import Services, UnavailableScheduler
from paastech.settings import load_settings

if __name__ == "__main__":
    settings = load_settings(os.environ)
    scheduler = ComposedScheduler(UnavailableScheduler(), RuntimeReads(NomadApi(settings.nomad)))
    run(
        settings,
        Services(repos=GitRepoStore.for_state_dir(settings.state_path), scheduler=scheduler),
    )
