"""Regenerate the tutorial notebooks from their cell sources in ``notebooks/sources/`` (one module each).

A written notebook has no outputs: execute it afterwards (see notebooks/README.md)::

    python notebooks/make_notebooks.py 03        # writes 03-no-transcripts-garbled.ipynb
    jupyter nbconvert --to notebook --execute --inplace notebooks/03-no-transcripts-garbled.ipynb
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

HERE = Path(__file__).resolve().parent


def sources() -> dict[str, list[nbformat.NotebookNode]]:
    """Every tutorial's file name and cells, in file-name order."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import sources as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"sources.{info.name}")
        if hasattr(module, "NOTEBOOK"):
            found[module.NOTEBOOK] = module.CELLS
    return dict(sorted(found.items()))


def main(argv: list[str] | None = None) -> None:
    """Write the notebooks named on the command line (file names or their number, e.g. ``02``), else all of them."""
    from sources.common import KERNEL

    notebooks = sources()
    wanted = sys.argv[1:] if argv is None else argv
    unknown = [w for w in wanted if not any(n == w or n.startswith(w + "-") for n in notebooks)]
    if unknown:
        raise SystemExit(f"no tutorial named {', '.join(unknown)}; there are: {', '.join(notebooks)}")
    for name, cells in notebooks.items():
        if not wanted or any(name == w or name.startswith(w + "-") for w in wanted):
            nbformat.write(new_notebook(cells=cells, metadata=KERNEL), HERE / name)


if __name__ == "__main__":
    main()
