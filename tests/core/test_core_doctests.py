"""Every public module's docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import phago

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(phago.__path__, "phago.")
    if not m.name.startswith("phago._")
    and ".cli" not in m.name
    and m.name != "phago.distributed.backends.ray"  # (imports Ray: tests/ray runs it)
)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
