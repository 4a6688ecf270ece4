"""One module per page (noun) of the dashboard, as the CLI has one module per command noun."""
