"""``python -m paastech_shim``: serve ``$PAASTECH_HANDLER`` until SIGTERM."""

import os
import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main(dict(os.environ)))
