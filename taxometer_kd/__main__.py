"""``python -m taxometer_kd`` (also what ``torchrun ... -m taxometer_kd embed`` runs)."""

import sys

from taxometer_kd.cli import main

sys.exit(main())
