"""Checkpoints as pickle-free ``.npz`` files.

A checkpoint holds the parameter leaves of a pytree as ``leaf_0000, leaf_0001, ...`` (in
``jax.tree_util`` order), the leaves of the network's state (batch-norm running statistics) as
``state_0000, ...`` (none for a network without state) and a JSON string ``metadata``. The tree
structures are not stored: they are rebuilt from a template (the model's freshly initialised
parameters and state), so loading never executes code from the file. Writes are atomic (see
:mod:`ntk_evolution._infra.atomic`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ntk_evolution._infra.atomic import atomic_file
from ntk_evolution._infra.recovery import damaged, open_npz
from ntk_evolution._infra.type_aliases import Params, State, Variables

PARAMS, STATE = "leaf_", "state_"


def _arrays(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    return {
        f"{prefix}{i:04d}": np.asarray(leaf)
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree))
    }


def save_checkpoint(
    path: str | Path, params: Params, metadata: dict[str, Any], state: State | None = None
) -> None:
    """Write ``params``, the network's ``state`` (None or ``{}``: none) and ``metadata``
    (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    arrays = {**_arrays(PARAMS, params), **_arrays(STATE, state or {})}
    with atomic_file(path) as f:
        np.savez(f, metadata=np.array(json.dumps(metadata, sort_keys=True)), **arrays)


def _rebuild(f: Any, path: str | Path, prefix: str, template: Any, what: str) -> Any:
    """The ``prefix`` arrays of the open file ``f`` in the tree structure of ``template``."""
    expected = jax.tree_util.tree_leaves(template)
    stored = sorted(k for k in f.files if k.startswith(prefix))
    if len(stored) != len(expected):
        raise damaged(
            "checkpoint",
            path,
            f"holds {len(stored)} {what} arrays but the configured model has "
            f"{len(expected)}: it is of another model",
        )
    leaves = [f[f"{prefix}{i:04d}"] for i in range(len(expected))]
    if any(a.shape != tuple(b.shape) for a, b in zip(leaves, expected, strict=True)):
        raise damaged(
            "checkpoint", path, f"holds {what} arrays of another model than the configured one"
        )
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)


def load_checkpoint(path: str | Path, template: Params) -> tuple[Params, dict[str, Any]]:
    """Read a checkpoint's parameters into the tree structure of ``template``; returns
    ``(params, metadata)`` (:func:`load_variables` reads the state too).

    ``template`` may hold arrays or ``jax.ShapeDtypeStruct`` leaves (from ``jax.eval_shape``).
    A missing or damaged checkpoint, or one of another model, raises :class:`DamagedInput`
    naming the file and the command that regenerates it.
    """
    with open_npz(path, "checkpoint", ["metadata"]) as f:
        metadata = json.loads(str(f["metadata"]))
        params = _rebuild(f, path, PARAMS, template, "parameter")
    return params, metadata


def load_variables(path: str | Path, template: Variables) -> tuple[Variables, dict[str, Any]]:
    """Read a checkpoint's parameters and state into the structures of ``template``'s
    (:meth:`ntk_evolution.models.networks.Network.shapes`); returns ``(variables, metadata)``, checked
    as :func:`load_checkpoint` checks the parameters."""
    with open_npz(path, "checkpoint", ["metadata"]) as f:
        metadata = json.loads(str(f["metadata"]))
        params = _rebuild(f, path, PARAMS, template.params, "parameter")
        state = _rebuild(f, path, STATE, template.state, "state")
    return Variables(params, state), metadata
