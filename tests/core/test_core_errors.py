"""``phago.errors``: one family, every member exported."""

from __future__ import annotations

import inspect

import phago.errors as errors


def test_every_error_is_a_phago_error_and_exported() -> None:
    classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, Exception)
        and obj.__module__ == errors.__name__
        and not name.startswith("_")  # (private mixins, such as the KeyError message one)
    }
    # (GraphError, InvalidQuery and ColonyBusy were missing from __all__ when they came)
    assert classes == set(errors.__all__)
    assert all(issubclass(getattr(errors, name), errors.PhagoError) for name in classes)
