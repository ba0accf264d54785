"""The model interface: what the pipeline needs of a network, its state included.

A model is any object with three methods (:class:`StatefulModel`):

- ``initialize(key, image_shape) -> (params, state)``: random parameters and the initial state
  for NHWC images of ``image_shape`` (H, W, C). ``state`` holds what the network keeps besides
  its parameters, such as batch-norm running statistics; it is ``{}`` for a network without any.
- ``apply_train(params, state, images) -> (logits, new_state)``: the training-mode forward pass
  (batch-norm: batch statistics), with the state it leaves (batch-norm: the running statistics
  updated by this batch).
- ``apply_eval(params, state, images) -> logits``: the evaluation-mode forward pass (batch-norm:
  the running statistics of ``state``).

Both passes are pure functions of arrays that JAX can trace, differentiate and compile; ``params``
and ``state`` are pytrees of float arrays. The ``stax`` models (:class:`ntk_evolution.models.stax_models.Model`,
no state), the paper's batch-norm ResNet-18 and any Flax module
(:class:`ntk_evolution.models.flax_models.FlaxModel`) are such models; ``docs/models.md`` shows how to
write one and name it in the config by its import path.

Phase-1 training uses the training mode and carries the state from step to step. Every other
use of a network takes the evaluation-mode function of a checkpoint's parameters and state,
f(theta, x) = apply_eval(theta, state, x), with the state held fixed: its kernels, its linearized
and centered children (around the spawn parameters, with the spawn state), attacks, evaluation,
kernel machines, feature pictures and attacked kernels. :meth:`Network.evaluation` gives that
function as ``apply(params, images) -> logits``, a ``jax.tree_util.Partial`` whose leaves are the
state, so the state is an input of every compiled program and one program serves every
checkpoint.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax

from ntk_evolution._infra.type_aliases import ApplyFn, Params, State, Variables
from ntk_evolution.configuration.infinite_reach import FLAX_ARCHITECTURES, split_import_path
from ntk_evolution.configuration.settings import ModelSettings
from ntk_evolution.models.classifier import as_pytree
from ntk_evolution.models.stax_models import ARCHITECTURES, Model, build_model

INTERFACE = ("initialize", "apply_train", "apply_eval")


@runtime_checkable
class StatefulModel(Protocol):
    """What a model provides (see the module docstring)."""

    def initialize(self, key: jax.Array, image_shape: tuple[int, ...]) -> tuple[Params, State]:
        """Random parameters and the initial state for images of ``image_shape`` (H, W, C)."""
        ...

    def apply_train(
        self, params: Params, state: State, images: jax.Array
    ) -> tuple[jax.Array, State]:
        """Training-mode logits of a batch of NHWC images, and the new state."""
        ...

    def apply_eval(self, params: Params, state: State, images: jax.Array) -> jax.Array:
        """Evaluation-mode logits of a batch of NHWC images."""
        ...


class Modes(NamedTuple):
    """The two forward passes of a network as pytrees (arguments of compiled programs):
    ``train(params, state, images) -> (logits, new_state)`` and
    ``evaluate(params, state, images) -> logits``."""

    train: Callable[..., tuple[jax.Array, State]]
    evaluate: Callable[..., jax.Array]


def _stateless_train(apply: ApplyFn, params: Params, state: State, images: jax.Array):
    return apply(params, images), state


def _stateless_evaluate(apply: ApplyFn, params: Params, state: State, images: jax.Array):
    return apply(params, images)


def stateless(apply: ApplyFn) -> Modes:
    """The modes of a function ``apply(params, images) -> logits`` without state (a child, a
    kernel machine): both are ``apply``, and the state passes through unchanged."""
    model = as_pytree(apply)
    return Modes(
        jax.tree_util.Partial(_stateless_train, model),
        jax.tree_util.Partial(_stateless_evaluate, model),
    )


@dataclass(frozen=True, eq=False)
class Network:
    """A configured model (:class:`StatefulModel`) as the pipeline uses it.

    ``reference`` is the ``stax`` model whose infinite-width kernels exist
    (:mod:`ntk_evolution.kernels.infinite`); None for every other model. Compared by identity: the
    functions it hands out are the same pytree structure for every checkpoint of one network,
    so compiled programs are reused.
    """

    model: StatefulModel
    architecture: str
    reference: Model | None = None

    def init(self, key: jax.Array, image_shape: tuple[int, ...]) -> Variables:
        """Initial parameters and state for images of ``image_shape`` (H, W, C)."""
        params, state = self.model.initialize(key, tuple(image_shape))
        return Variables(params, state)

    def shapes(self, image_shape: tuple[int, ...]) -> Variables:
        """The parameter and state trees as ``jax.ShapeDtypeStruct`` leaves (the template a
        checkpoint is read into), without computing anything."""
        return jax.eval_shape(lambda key: self.init(key, image_shape), jax.random.PRNGKey(0))

    def _train(self, params: Params, state: State, images: jax.Array):
        return self.model.apply_train(params, state, images)

    def _evaluate(self, params: Params, state: State, images: jax.Array) -> jax.Array:
        return self.model.apply_eval(params, state, images)

    def _evaluate_at(self, state: State, params: Params, images: jax.Array) -> jax.Array:
        return self.model.apply_eval(params, state, images)

    @property
    def modes(self) -> Modes:
        """Both forward passes, for phase-1 training (:func:`ntk_evolution.training.loop.train`)."""
        return Modes(jax.tree_util.Partial(self._train), jax.tree_util.Partial(self._evaluate))

    def evaluation(self, state: State) -> ApplyFn:
        """f(theta, x) = apply_eval(theta, state, x): the evaluation-mode function of the
        parameters with ``state`` held fixed, a ``jax.tree_util.Partial`` whose leaves are
        ``state``."""
        return jax.tree_util.Partial(self._evaluate_at, state)


def import_model(path: str) -> Callable[..., Any]:
    """The function an import path ``package.module:function`` names.

    The module is imported as Python imports any module; the working directory (the
    workflow's, where its jobs run) is searched after the installed packages, so a module in
    the project folder needs no installation.
    """
    module_name, function_name = split_import_path(path)
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"model.architecture {path!r}: cannot import {module_name!r} ({err}); it must be "
            "installed or lie below the working directory"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(
            f"model.architecture {path!r}: {module_name} has no function {function_name!r}"
        )
    return function


def _check_interface(model: Any, path: str) -> StatefulModel:
    missing = [name for name in INTERFACE if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(
            f"model.architecture {path!r} returned {type(model).__name__}, which lacks "
            f"{', '.join(missing)}: a model provides {', '.join(INTERFACE)} (docs/models.md)"
        )
    return model


def build_network(settings: ModelSettings, num_classes: int) -> Network:
    """The network of the config's ``model`` section for ``num_classes`` classes.

    - ``mlp``, ``cnn``, ``resnet_no_bn``: the ``stax`` models (:mod:`ntk_evolution.models.stax_models`),
      with their infinite-width reference;
    - ``resnet``: the paper's ResNet v1 with batch-norm (:mod:`ntk_evolution.models.flax_models`);
    - ``package.module:function``: ``function(num_classes=..., **model.options)``, which
      returns a model of the interface.
    """
    architecture = settings.architecture
    if architecture in ARCHITECTURES:
        model = build_model(
            architecture,
            num_classes=num_classes,
            width=settings.width,
            depth=settings.depth,
            parameterization=settings.parameterization,
            zero_readout=settings.zero_readout,
        )
        return Network(model, architecture, reference=model)
    if architecture in FLAX_ARCHITECTURES:
        from ntk_evolution.models.flax_models import resnet

        built = resnet(
            num_classes=num_classes,
            width=settings.width,
            depth=settings.depth,
            zero_readout=settings.zero_readout,
        )
        return Network(built, architecture)
    function = import_model(architecture)
    built = function(num_classes=num_classes, **settings.options)
    return Network(_check_interface(built, architecture), architecture)
