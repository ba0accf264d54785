"""A job's settings as its script reads them: the rule hands plain sections in ``params`` (what
Snakemake compares to decide what reruns), the script reads each into its typed model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def typed_params(snakemake: Any, **models: type[BaseModel]) -> dict[str, BaseModel]:
    """The job's ``params.<name>`` for every ``name=Settings`` of ``models``, each read into
    its settings class of :mod:`ntk_evolution.configuration.settings` and checked as the config
    was: ``stage(..., **typed_params(snakemake, model=ModelSettings, ntk=NtkSettings))``."""
    return {
        name: model.model_validate(getattr(snakemake.params, name))
        for name, model in models.items()
    }
