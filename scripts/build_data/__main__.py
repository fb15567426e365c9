"""``python scripts/build_data [--out DIR] [DB ...]``, which is what ``make data`` runs."""

import sys
from pathlib import Path

if not __package__:
    # Run as a folder, Python puts that folder on sys.path; put its parent there instead
    # so the modules import as the ``build_data`` package.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from build_data import main

main()
