"""studykit: a diagnostic-accuracy study, end to end, from one YAML protocol.

Layers (DESIGN.md), top to bottom: ``cli``, ``study``, ``protocol``, ``report``,
``analysis``, ``readers``, ``train``, ``nets``, ``cohort``, ``stats``, ``errors``.
``from studykit import stats`` gives the statistics engine on its own.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("studykit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
