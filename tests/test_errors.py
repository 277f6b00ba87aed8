"""The exception hierarchy: one root, drawn in voicelab/errors.py, and importable from `voicelab`.

The package is walked at run time (every module imported), so a class defined anywhere is found, with
its real bases. The drawing in the docstring of `voicelab.errors` is parsed and compared with the code:
module, parent and builtin bases of every class, and which ones are ``voicelab.<Name>``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field

import pytest

import voicelab
from voicelab.errors import VoicelabError

MODULE_ONLY = "[module only]"


def _walk() -> tuple[list[type[BaseException]], list[str]]:
    """Every exception class defined in voicelab (by the module that defines it), and modules that fail to import."""
    found: dict[tuple[str, str], type[BaseException]] = {}
    failed: list[str] = []
    for info in pkgutil.walk_packages(voicelab.__path__, "voicelab."):
        if info.name.rsplit(".", 1)[-1] == "__main__":  # importing it would run the CLI
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[(obj.__module__, obj.__qualname__)] = obj
    return sorted(found.values(), key=lambda c: (c.__module__, c.__qualname__)), failed


@pytest.fixture(scope="module")
def walked() -> list[type[BaseException]]:
    classes, failed = _walk()
    assert not failed, "modules of the package that cannot be imported:\n" + "\n".join(failed)
    assert VoicelabError in classes
    return classes


@dataclass
class Node:
    name: str
    module: str
    parent: str | None
    bases: tuple[str, ...]
    module_only: bool


@dataclass
class Tree:
    nodes: dict[str, Node] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def parse_tree(doc: str) -> Tree:
    """Parse the ``::`` block of the errors.py docstring (module headings ``voicelab.x``, classes below)."""
    tree = Tree()
    block = doc.split("::\n", 1)[1]
    stack: list[tuple[int, str, bool]] = []  # (indent, name, is_module)
    for raw in block.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip())
        if indent == 0:  # the prose after the drawing
            break
        text = raw.strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if text.startswith("voicelab."):
            stack.append((indent, text.split()[0], True))
            continue
        m = re.fullmatch(r"(\w+)(?: \(([\w, ]+)\))?( \[module only\])?", text)
        if m is None:
            tree.errors.append(f"cannot read this line of the drawing: {text!r}")
            continue
        name = m.group(1)
        modules = [n for _, n, is_mod in stack if is_mod]
        parents = [n for _, n, is_mod in stack if not is_mod]
        module = modules[-1] if modules else "voicelab.errors"
        if name in tree.nodes:
            tree.errors.append(f"{name} is drawn twice")
        tree.nodes[name] = Node(
            name=name,
            module=module,
            parent=parents[-1] if parents else None,
            bases=tuple(b.strip() for b in m.group(2).split(",")) if m.group(2) else (),
            module_only=bool(m.group(3)),
        )
        stack.append((indent, name, False))
    return tree


def _real_bases(cls: type) -> set[str]:
    return {b.__name__ for b in cls.__bases__} - {"Exception"}


def _drawn_bases(node: Node, voicelab_names: set[str]) -> set[str]:
    """The direct bases the drawing says: the enclosing class and the ones in parentheses.

    A top-level class of a module group is drawn inside the root; when its parentheses name an error of
    another module, that error is its parent instead of the root.
    """
    bases = set(node.bases)
    if node.parent is not None and not (node.parent == "VoicelabError" and bases & voicelab_names):
        bases.add(node.parent)
    return bases


def _caught_in_own_module(cls: type) -> bool:
    """Whether the class's module has an ``except`` clause naming it (control flow that cannot escape)."""
    tree = ast.parse(inspect.getsource(importlib.import_module(cls.__module__)))
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            if cls.__name__ in names:
                return True
    return False


def _public(classes: list[type[BaseException]]) -> list[type[BaseException]]:
    return [c for c in classes if issubclass(c, VoicelabError)]


# -- (a) one root -----------------------------------------------------------------------------------------
def test_every_exception_derives_from_voicelab_error(walked):
    stray = []
    for cls in walked:
        if issubclass(cls, VoicelabError):
            continue
        if cls.__name__.startswith("_") and _caught_in_own_module(cls):
            continue  # private control flow (e.g. the client's end-of-connection signal), caught where raised
        stray.append(f"{cls.__module__}.{cls.__qualname__}")
    assert not stray, f"exceptions outside the VoicelabError tree: {stray}"


def test_error_names_are_unique(walked):
    names = [c.__name__ for c in _public(walked)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def drawing_problems(doc: str, classes: list[type[BaseException]]) -> list[str]:
    """Where the drawing in ``doc`` and the classes disagree (module, parent, builtin bases, missing, stale)."""
    tree = parse_tree(doc)
    problems = list(tree.errors)
    defined = {c.__name__ for c in _public(classes)}
    for cls in _public(classes):
        node = tree.nodes.get(cls.__name__)
        if node is None:
            problems.append(f"{cls.__name__} ({cls.__module__}) is not drawn")
            continue
        if node.module != cls.__module__:
            problems.append(f"{cls.__name__} is drawn under {node.module}, defined in {cls.__module__}")
        drawn, real = _drawn_bases(node, defined), _real_bases(cls)
        if drawn != real:
            problems.append(f"{cls.__name__} is drawn with bases {sorted(drawn)}, derives from {sorted(real)}")
    problems += [f"{name} is drawn but defined nowhere" for name in tree.nodes if name not in defined]
    return problems


def export_problems(doc: str, classes: list[type[BaseException]], package: object) -> list[str]:
    """User-facing classes (drawn without the mark) that are not ``package.<Name>``, and marked ones that are."""
    tree = parse_tree(doc)
    exported = getattr(package, "__all__", ())
    problems = []
    for cls in _public(classes):
        node = tree.nodes.get(cls.__name__)
        if node is None or node.module_only:
            if cls.__name__ in exported:
                problems.append(f"{cls.__name__} is in __all__ but drawn {MODULE_ONLY}")
            continue
        if cls.__name__ not in exported:
            problems.append(f"{cls.__name__} is not in __all__")
        if getattr(package, cls.__name__, None) is not cls:
            problems.append(f"voicelab.{cls.__name__} is not {cls.__module__}.{cls.__name__}")
    return problems


DOC = importlib.import_module("voicelab.errors").__doc__ or ""


# -- (b) the drawing matches the code ----------------------------------------------------------------------
def test_the_docstring_draws_every_error_where_it_is_defined(walked):
    problems = drawing_problems(DOC, walked)
    assert not problems, "\n".join(problems)


# -- (c) user-facing errors are voicelab.<Name> ------------------------------------------------------------
def test_user_facing_errors_are_importable_from_voicelab(walked):
    problems = export_problems(DOC, walked, voicelab)
    assert not problems, "\n".join(problems)


# -- the checks themselves can fail ------------------------------------------------------------------------
class _Drawn(VoicelabError):
    pass


class _Undrawn(_Drawn, ValueError):
    pass


_Drawn.__module__ = _Undrawn.__module__ = "voicelab.fake"

FAKE = """Doc::

    VoicelabError
        voicelab.fake
            _Drawn (KeyError)
            _Gone [module only]
        voicelab.other
            _Undrawn
            Not a class line
"""


def test_drawing_check_reports_each_kind_of_drift():
    problems = drawing_problems(FAKE, [VoicelabError, _Drawn, _Undrawn])
    assert problems == [
        "cannot read this line of the drawing: 'Not a class line'",
        "_Drawn is drawn with bases ['KeyError', 'VoicelabError'], derives from ['VoicelabError']",
        "_Undrawn is drawn under voicelab.other, defined in voicelab.fake",
        "_Undrawn is drawn with bases ['VoicelabError'], derives from ['ValueError', '_Drawn']",
        "_Gone is drawn but defined nowhere",
    ]


def test_export_check_reports_missing_and_wrongly_exported_names():
    class Package:
        __all__ = ["_Gone"]
        _Drawn = VoicelabError  # the wrong class under the right name

    problems = export_problems(FAKE.replace("_Drawn (KeyError)", "_Drawn\n            _Other [module only]"),
                               [VoicelabError, _Drawn], Package)
    assert "_Drawn is not in __all__" in problems
    assert "voicelab._Drawn is not voicelab.fake._Drawn" in problems
    assert "VoicelabError is not in __all__" in problems


class _Escapes(Exception):
    pass


class _Caught(Exception):
    pass


def _signal() -> None:
    try:
        raise _Caught
    except _Caught:
        pass


def test_private_exceptions_outside_the_tree_must_be_caught_where_raised():
    assert _caught_in_own_module(_Caught)
    assert not _caught_in_own_module(_Escapes)  # nothing here catches it: the walk would report it
