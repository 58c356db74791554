"""Regenerate every golden fixture from R: ``python tests/regen_golden.py [module ...]``.

Each test module that stores golden fixtures defines ``regenerate_golden()``, which runs
R on the module's fixed inputs and rewrites its ``golden/*.json``. Run this on a machine
with R (``apt-get install -y r-base-core r-cran-proc r-cran-psych r-cran-epir``) after
changing a fixture's inputs or R code, and commit the JSON files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def main(names: list[str]) -> int:
    sys.path.insert(0, str(TESTS))
    for path in sorted(TESTS.glob("**/test_*.py")):
        if names and path.stem not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "regenerate_golden"):
            for written in module.regenerate_golden():
                print(f"wrote {written.relative_to(TESTS.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
