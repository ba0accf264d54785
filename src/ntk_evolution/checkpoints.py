"""Checkpoints as pickle-free ``.npz`` files.

A checkpoint holds the parameter leaves of a pytree as ``leaf_0000, leaf_0001, ...`` (in
``jax.tree_util`` order) and a JSON string ``metadata``. The tree structure is not stored: it is
rebuilt from a template (the model's freshly initialised parameters), so loading never executes
code from the file. Writes go to a temporary file that is renamed into place, so an interrupted
write never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

Params = Any


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, truncated, corrupt or of another model."""


def save_checkpoint(path: str | Path, params: Params, metadata: dict[str, Any]) -> None:
    """Write ``params`` and ``metadata`` (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    leaves = jax.tree_util.tree_leaves(params)
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as f:
        np.savez(f, metadata=np.array(json.dumps(metadata, sort_keys=True)), **arrays)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, template: Params) -> tuple[Params, dict[str, Any]]:
    """Read a checkpoint into the tree structure of ``template``; returns ``(params, metadata)``.

    ``template`` may hold arrays or ``jax.ShapeDtypeStruct`` leaves (from ``jax.eval_shape``).
    """
    path = Path(path)
    expected = jax.tree_util.tree_leaves(template)
    treedef = jax.tree_util.tree_structure(template)
    try:
        with np.load(path, allow_pickle=False) as f:
            metadata = json.loads(str(f["metadata"]))
            leaves = [f[f"leaf_{i:04d}"] for i in range(len(expected))]
            extra = len([k for k in f.files if k.startswith("leaf_")]) - len(expected)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as err:
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({err}); delete it and rerun the "
            "training job that writes it"
        ) from err
    shapes_differ = any(a.shape != tuple(b.shape) for a, b in zip(leaves, expected, strict=True))
    if extra or shapes_differ:
        raise CheckpointError(
            f"checkpoint {path} holds parameters of another model than the configured one; "
            "rerun its training job with the current config"
        )
    return jax.tree_util.tree_unflatten(treedef, leaves), metadata
