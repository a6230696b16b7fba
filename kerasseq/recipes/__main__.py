"""``python -m kerasseq.recipes``: see `kerasseq.recipes.main`."""

import sys

from kerasseq.recipes import main

sys.exit(main())
