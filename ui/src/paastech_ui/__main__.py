"""``python -m paastech_ui``: the same as the ``paastech-ui`` console script."""

from paastech_ui.main import main

main()
