"""Compatibility layer that lets neural-tangents 0.6.5 run on jax 0.5.3 without TensorFlow.

Import ``neural_tangents`` through this module (``from ntk_evolution._infra.compat import nt``), never
directly. It does exactly two things before the first import, both idempotent:

1. **No TensorFlow.** ``neural_tangents/__init__.py`` unconditionally imports
   ``neural_tangents.experimental``, a TensorFlow port that is the only user of its declared
   ``tensorflow`` and ``tf2jax`` requirements (dropped in ``pyproject.toml``). When TensorFlow is
   not installed, an empty module is registered under that name so the import succeeds; nothing
   in this project uses the experimental port.
2. **STRUCTURED_DERIVATIVES on jax 0.5.3.** The fast NTK implementation reads
   ``jax.interpreters.ad.source_info_util`` and ``jax.interpreters.ad.config``, two names jax no
   longer exposes there. They are restored from ``jax._src.source_info_util`` and ``jax.config``.

``tests/test_compat.py`` checks that STRUCTURED_DERIVATIVES agrees with JACOBIAN_CONTRACTION on
every model family the pipeline offers, so a jax or neural-tangents upgrade that breaks the
restored names is caught there.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import jax
import jax.interpreters.ad as _ad
from jax._src import source_info_util as _source_info_util


def _register_experimental_stub() -> None:
    """Stand an empty module in for the TensorFlow-only ``neural_tangents.experimental``."""
    name = "neural_tangents.experimental"
    if name in sys.modules or importlib.util.find_spec("tensorflow") is not None:
        return
    stub = types.ModuleType(name)
    stub.__doc__ = "Placeholder: the TensorFlow port is not available without TensorFlow."
    sys.modules[name] = stub


def _restore_jax_names() -> None:
    """Put back the two names STRUCTURED_DERIVATIVES reads from ``jax.interpreters.ad``."""
    if not hasattr(_ad, "source_info_util"):
        _ad.source_info_util = _source_info_util
    if not hasattr(_ad, "config"):
        _ad.config = jax.config


_register_experimental_stub()
_restore_jax_names()

import neural_tangents as nt  # noqa: E402  (must follow the two fixes above)
from neural_tangents import stax  # noqa: E402

__all__ = ["nt", "stax"]
