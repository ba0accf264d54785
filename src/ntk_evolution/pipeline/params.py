"""A job's settings as its script reads them: the rule hands plain sections in ``params`` (what
Snakemake compares to decide what reruns), the script reads each into its typed model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    Settings = TypeVar("Settings", bound=BaseModel)


def typed_params(snakemake: Any, name: str, model: type[Settings]) -> Settings:
    """The job's ``params.<name>`` read into ``model`` (a settings class of
    :mod:`ntk_evolution.configuration.settings`), checked as the config was."""
    return model.model_validate(getattr(snakemake.params, name))
