"""Fixtures of tests/cohort, defined in cohort_support.py with the helpers its test modules import.

The helpers live in a uniquely named module because ``from conftest import …`` finds whichever
directory's conftest pytest loaded last (it broke the suite once: tests/cohort importing
tests/train's conftest).
"""

from cohort_support import *  # noqa: F403  (the fixtures)

