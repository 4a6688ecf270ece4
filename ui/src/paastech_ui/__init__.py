"""PaaSTech's web dashboard: the gateway's Client API in a browser (NiceGUI).

It talks HTTP to the gateway only, through :class:`paastech_cli.api.GatewayClient`; it never
imports server code nor touches the database.
"""

__version__ = "0.1.0"
