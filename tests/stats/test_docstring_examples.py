"""Every docstring example of ``studykit.stats`` runs and prints what it shows (STYLE.md: an
Example that runs). A module added to the package is picked up without editing this file.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import studykit.stats

MODULES = sorted(m.name for m in pkgutil.walk_packages(studykit.stats.__path__, "studykit.stats."))


def test_every_stats_module_is_listed():
    assert "studykit.stats.roc" in MODULES and "studykit.stats._validation" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, capsys):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, capsys.readouterr().out
