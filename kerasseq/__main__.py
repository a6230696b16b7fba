"""``python -m kerasseq`` runs the ``kerasseq`` command."""

import sys

from kerasseq.cli import main

if __name__ == "__main__":
    sys.exit(main())
