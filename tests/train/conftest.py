"""Fixtures of tests/train, defined in train_support.py with the helpers its test modules import.

The helpers live in a uniquely named module because ``from conftest import …`` finds whichever
directory's conftest pytest loaded last (it broke the suite once: tests/cohort importing
tests/train's conftest).
"""

from train_support import *  # noqa: F403  (the fixtures)
from train_support import _two_threads  # noqa: F401  (autouse)
