"""Top-level functions stay functions: no subpackage shares a name with one (importing a subpackage binds
its name on the parent package, which would replace a lazily exported function of that name)."""

import importlib
import pkgutil
import types

import voicelab as vl

LAZY_FUNCTIONS = ("stream", "replay", "serve", "doctor", "diagnose", "tap")


def test_no_subpackage_or_module_is_named_like_a_top_level_function():
    names = {m.name for m in pkgutil.iter_modules(vl.__path__)}
    assert not names & set(LAZY_FUNCTIONS), names & set(LAZY_FUNCTIONS)


def test_top_level_functions_survive_importing_every_subpackage():
    for m in pkgutil.iter_modules(vl.__path__):
        if m.name != "__main__":  # the command line entry point runs on import
            importlib.import_module(f"voicelab.{m.name}")
    for name in LAZY_FUNCTIONS:
        obj = getattr(vl, name)
        assert isinstance(obj, types.FunctionType), (name, obj)
