"""``paastech``: the PaaSTech command line, and the typed HTTP client it shares with the dashboard.

:mod:`paastech_cli.api` (with :mod:`~paastech_cli.schemas` and :mod:`~paastech_cli.errors`) is
the client and knows nothing about terminals; every other module is the CLI around it.
"""

__version__ = "0.1.0"
