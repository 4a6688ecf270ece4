"""The REST gateway: the only door into platform state for the CLI and the dashboard."""
