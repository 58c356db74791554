"""Fixtures of tests/study, defined in study_support.py with the helpers its test modules import.

The helpers live in a uniquely named module because ``from conftest import …`` finds whichever
directory's conftest pytest loaded last (it broke the suite once: tests/cohort importing
tests/train's conftest).
"""

from study_support import *  # noqa: F403  (the fixtures)
from study_support import _two_threads  # noqa: F401  (autouse)
