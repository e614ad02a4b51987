"""Hypothesis keeps caches (and, when enabled, its example database) in ``.hypothesis/`` under the working
directory: put them in a temporary folder so fuzzing never leaves files in the tree. Findings worth
keeping become regression files under ``regressions/`` instead."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "desktop-search-hypothesis"))
