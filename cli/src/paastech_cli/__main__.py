"""``python -m paastech_cli``: the same as the ``paastech`` command."""

from paastech_cli.app import run

if __name__ == "__main__":
    run()
