"""Settings for the tests: PGD built without the config's checks, a small network's model."""

from __future__ import annotations

from ntk_evolution.configuration.settings import Attack, ModelSettings


def pgd_attack(
    epsilon: float, step_size: float, steps: int, random_start: bool = True, norm: str = "linf"
) -> Attack:
    """An :class:`Attack` as a config section gives it, unchecked, so that the edge cases of
    the arithmetic (radius 0, no step) can be tested too."""
    return Attack.model_construct(
        norm=norm, epsilon=epsilon, step_size=step_size, steps=steps, random_start=random_start
    )


def model_settings(architecture: str = "mlp", width: int = 8, **changes: object) -> ModelSettings:
    """A small network's settings: one hidden layer (or stage) in the standard
    parameterisation, a random readout, no options; ``changes`` set other keys."""
    keys = {"depth": 1, "parameterization": "standard", "zero_readout": False, "options": {}}
    return ModelSettings(architecture=architecture, width=width, **{**keys, **changes})


def pgd_entry(
    norm: str, epsilon: float, step_size: float, steps: int, *, random_start: bool, **more: object
) -> dict[str, object]:
    """A PGD entry of ``evaluation.attacks`` as a config gives it; ``more`` adds ``epsilons``."""
    entry = {"method": "pgd", "norm": norm, "epsilon": epsilon, "step_size": step_size}
    return {**entry, "steps": steps, "random_start": random_start, **more}
