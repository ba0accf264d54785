"""Checkpoints as pickle-free ``.npz`` files.

A checkpoint holds the parameter leaves of a pytree as ``leaf_0000, leaf_0001, ...`` (in
``jax.tree_util`` order) and a JSON string ``metadata``. The tree structure is not stored: it is
rebuilt from a template (the model's freshly initialised parameters), so loading never executes
code from the file. Writes are atomic (see :mod:`ntk_evolution.atomic`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ntk_evolution.atomic import atomic_file
from ntk_evolution.recovery import damaged, open_npz
from ntk_evolution.type_aliases import Params


def save_checkpoint(path: str | Path, params: Params, metadata: dict[str, Any]) -> None:
    """Write ``params`` and ``metadata`` (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    leaves = jax.tree_util.tree_leaves(params)
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    with atomic_file(path) as f:
        np.savez(f, metadata=np.array(json.dumps(metadata, sort_keys=True)), **arrays)


def load_checkpoint(path: str | Path, template: Params) -> tuple[Params, dict[str, Any]]:
    """Read a checkpoint into the tree structure of ``template``; returns ``(params, metadata)``.

    ``template`` may hold arrays or ``jax.ShapeDtypeStruct`` leaves (from ``jax.eval_shape``).
    A missing or damaged checkpoint, or one of another model, raises :class:`DamagedInput`
    naming the file and the command that regenerates it.
    """
    expected = jax.tree_util.tree_leaves(template)
    treedef = jax.tree_util.tree_structure(template)
    with open_npz(path, "checkpoint", ["metadata"]) as f:
        metadata = json.loads(str(f["metadata"]))
        stored = sorted(k for k in f.files if k.startswith("leaf_"))
        if len(stored) != len(expected):
            raise damaged(
                "checkpoint",
                path,
                f"holds {len(stored)} parameter arrays but the configured model has "
                f"{len(expected)}: it is of another model",
            )
        leaves = [f[f"leaf_{i:04d}"] for i in range(len(expected))]
    if any(a.shape != tuple(b.shape) for a, b in zip(leaves, expected, strict=True)):
        raise damaged(
            "checkpoint", path, "holds parameters of another model than the configured one"
        )
    return jax.tree_util.tree_unflatten(treedef, leaves), metadata
