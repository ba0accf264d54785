"""PGD settings for the tests, built without the config's checks."""

from __future__ import annotations

from ntk_evolution.configuration.settings import Attack


def pgd_attack(
    epsilon: float, step_size: float, steps: int, random_start: bool = True, norm: str = "linf"
) -> Attack:
    """An :class:`Attack` as a config section gives it, unchecked, so that the edge cases of
    the arithmetic (radius 0, no step) can be tested too."""
    return Attack.model_construct(
        norm=norm, epsilon=epsilon, step_size=step_size, steps=steps, random_start=random_start
    )
