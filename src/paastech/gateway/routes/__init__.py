"""One module per noun of the REST API."""
