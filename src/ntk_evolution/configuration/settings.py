"""The configuration's one typed description: a frozen model per section (no JAX here).

Each section of ``config.yaml`` is a class below; :class:`Config` is the whole file. The JSON
schema ``workflow/schemas/config.schema.yaml``, which checks a config and names every mistake
(:func:`ntk_evolution.configuration.config.validate_config`), is generated from these classes by
:func:`config_schema` (``python -m ntk_evolution.configuration.settings`` rewrites it; a test checks that
it is current). Every key is required, with no default in code, except ``gpu`` and an evaluation attack's
``epsilons``.

Rules hand a job plain sections (Snakemake compares them to decide what reruns); the job's
script reads each into its class, and the stages compute with typed settings. An attack's
settings go from the config to :class:`Attack` and from there to
:func:`ntk_evolution.attacks.pgd.pgd`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ntk_evolution.configuration.experiment import Run
from ntk_evolution.configuration.infinite_reach import IMPORT_PATH

Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Regime = Literal["benign", "adversarial", "flip"]
Phase2Regime = Literal["benign", "adversarial"]
Dynamics = Literal["linearized", "centered", "standard"]
AdversarialMix = Literal["pure", "benign_then_adversarial"]
# An evaluation attack's name: lower case, and not "clean" (the name of the clean accuracy).
ATTACK_NAMES = {"pattern": "^[a-z][a-z0-9_]*$", "not": {"enum": ["clean"]}}


def _unique(description: str | None = None, **constraints: Any) -> Any:
    """A list field whose items may appear once each (checked by the schema)."""
    return Field(json_schema_extra={"uniqueItems": True}, description=description, **constraints)


def _epochs_or_ends(
    epochs: Sequence[float] | None, checkpoint_epochs: Sequence[float]
) -> list[float]:
    """``epochs`` sorted, or (None) the first and the last of ``checkpoint_epochs``."""
    if epochs is None:
        return sorted({float(checkpoint_epochs[0]), float(checkpoint_epochs[-1])})
    return sorted(map(float, epochs))


class Section(BaseModel):
    """A config section: its keys are exactly the fields, its values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Attack(Section):
    """PGD settings: the ball's norm and radius, and the steps that search it."""

    norm: Literal["linf", "l2"] = Field(description="ball of the attack: L-inf or L2")
    epsilon: Positive = Field(description="radius of the ball (pixels lie in 0..1)")
    step_size: Positive = Field(description="size of each signed-gradient step")
    steps: Count
    random_start: bool

    def at(self, epsilon: float) -> Attack:
        """The same attack in a ball of radius ``epsilon``, its step size scaled in proportion,
        alpha' = alpha * (epsilon' / epsilon), so that steps * alpha' / epsilon' is unchanged."""
        return Attack(
            norm=self.norm,
            epsilon=epsilon,
            step_size=self.step_size * (epsilon / self.epsilon),
            steps=self.steps,
            random_start=self.random_start,
        )


class _Measured(Section):
    """The ball of an evaluation attack: its norm, its headline radius ``epsilon`` and the
    other radii ``epsilons`` it is also measured at."""

    norm: Literal["linf", "l2"] = Field(description="ball of the attack: L-inf or L2")
    epsilon: Positive = Field(description="headline radius of the ball (pixels lie in 0..1)")
    epsilons: list[Positive] = _unique(
        "more radii to measure at (epsilon is always measured)",
        min_length=1,
        default_factory=list,
    )

    @property
    def radii(self) -> list[float]:
        """The radii the attack is measured at: ``epsilon`` (the headline value) and every entry
        of ``epsilons``, sorted, each once."""
        return sorted({float(self.epsilon), *map(float, self.epsilons)})

    def at(self, epsilon: float) -> Any:
        """The same attack at radius ``epsilon`` only."""
        return self.model_copy(update={"epsilon": float(epsilon), "epsilons": []})


class PgdAttack(Attack, _Measured):
    """PGD (:func:`ntk_evolution.attacks.pgd.pgd`) on the cross-entropy; at another radius its step
    size scales with the radius (:meth:`Attack.at`), so that steps * alpha / epsilon is fixed."""

    method: Literal["pgd"]

    @property
    def passes(self) -> int:
        """Forward-backward passes over the images at one radius, judging included."""
        return self.steps + 1

    def at(self, epsilon: float) -> PgdAttack:
        scaled = self.step_size * (epsilon / self.epsilon)
        return self.model_copy(
            update={"epsilon": float(epsilon), "epsilons": [], "step_size": scaled}
        )


class ApgdAttack(_Measured):
    """Auto-PGD (:mod:`ntk_evolution.attacks.apgd`): step size halved at fixed checkpoints, momentum,
    the best point kept; cross-entropy, or the targeted difference-of-logits-ratio loss against
    each of the ``targets`` classes the clean logits rank highest after the label."""

    method: Literal["apgd"]
    loss: Literal["ce", "dlr_targeted"] = Field(description="ce | dlr_targeted")
    targets: Count | None = Field(
        description="dlr_targeted: classes attacked, one run each (ce: null)"
    )
    steps: Count
    restarts: Count = Field(description="runs from random starts (per target)")

    @property
    def passes(self) -> int:
        """Forward-backward passes over the images at one radius, judging included."""
        return (self.steps + 2) * self.restarts * (self.targets or 1) + 1


class SquareAttack(_Measured):
    """The Square attack (:mod:`ntk_evolution.attacks.square`): random search by square windows on the
    margin loss, with no gradient."""

    method: Literal["square"]
    queries: Count = Field(description="forward passes per image")
    p_init: float = Field(gt=0, le=1, description="first window's share of the image's pixels")

    @property
    def passes(self) -> int:
        """Forward passes over the images at one radius, judging included (an upper bound of
        forward-backward passes)."""
        return self.queries + 1


class EnsembleAttack(_Measured):
    """An example is robust only if no member breaks it; members are other evaluation attacks,
    each measured at every radius of the ensemble."""

    method: Literal["ensemble"]
    members: list[str] = _unique("names of evaluation attacks", min_length=1)

    @property
    def passes(self) -> int:
        """None of its own: its members are measured anyway."""
        return 0


EvaluationAttack = Annotated[
    PgdAttack | ApgdAttack | SquareAttack | EnsembleAttack, Field(discriminator="method")
]
"""One entry of ``evaluation.attacks``: its ``method`` says which."""
SingleAttack = PgdAttack | ApgdAttack | SquareAttack
"""An attack that crafts images (every method but the ensemble)."""


def read_attack(
    settings: Mapping[str, Any],
) -> PgdAttack | ApgdAttack | SquareAttack | EnsembleAttack:
    """An entry of ``evaluation.attacks`` as the class its ``method`` names."""
    return TypeAdapter(EvaluationAttack).validate_python(dict(settings))


class Optimizer(Section):
    """SGD with momentum."""

    learning_rate: Positive = Field(description="SGD learning rate")
    momentum: float = Field(ge=0, lt=1)


class DatasetSettings(Section):
    name: Literal["digits", "cifar10", "cifar100"]
    root: str = Field(description="folder holding dataset archives")
    url: str | None = Field(
        description="where the download rule fetches the dataset's archive (null = the "
        "official site)"
    )
    test_fraction: float = Field(
        gt=0, lt=1, description="test share of datasets without a fixed split (not used for CIFAR)"
    )
    probes_per_class: Count
    seed: Seed


class ModelSettings(Section):
    """The network: a built-in architecture, or a model of the interface of
    :mod:`ntk_evolution.models.networks` made by the function an import path names."""

    architecture: (
        Literal["mlp", "cnn", "resnet", "resnet_no_bn"] | Annotated[str, Field(pattern=IMPORT_PATH)]
    ) = Field(
        description="mlp | cnn | resnet (the paper's, with batch-norm) | resnet_no_bn (stax, "
        "scaled residual branches), or package.module:function, a function returning a model "
        "(docs/models.md)"
    )
    width: Count = Field(
        description="units (mlp), channels (cnn) or first-stage channels (resnet, resnet_no_bn)"
    )
    depth: Count = Field(
        description="hidden layers (mlp, cnn) or basic blocks per stage (resnet, resnet_no_bn; "
        "2 = ResNet-18)"
    )
    parameterization: Literal["standard", "ntk"] = Field(
        description="of the stax models (mlp, cnn, resnet_no_bn); the others: standard"
    )
    zero_readout: bool = Field(description="zero-initialised readout (built-in architectures)")
    options: dict[str, Any] = Field(
        description="keyword arguments of an import path's function, beside num_classes; {} "
        "for a built-in architecture"
    )

    @property
    def built_in(self) -> bool:
        """Whether ``architecture`` is a built-in one rather than an import path."""
        return ":" not in self.architecture


class Training(Section):
    """What a training job reads of a phase section: ``attack`` and ``adversarial_mix`` only if
    it trains adversarially, ``flip_epoch`` only for the flip regime (:meth:`Phase.training`),
    so that a benign job does not rerun when the attack changes."""

    epochs: Count
    batch_size: Count
    optimizer: Optimizer
    adversarial_mix: AdversarialMix | None = None
    attack: Attack | None = None
    flip_epoch: Count | None = None

    def adversarial_in(self, regime: str, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) of ``regime`` trains on adversarial examples."""
        if regime == "flip":
            return self.flip_epoch is not None and epoch >= self.flip_epoch
        return regime == "adversarial"


class Phase(Section):
    """The keys phase 1 and phase 2 share: how a model is trained."""

    epochs: Count
    batch_size: Count
    optimizer: Optimizer
    adversarial_mix: AdversarialMix
    attack: Attack

    def training(self, regimes: Sequence[str]) -> Training:
        """The settings a job training models of ``regimes`` depends on, and nothing more."""
        adversarial = set(regimes) != {"benign"}
        return Training(
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            adversarial_mix=self.adversarial_mix if adversarial else None,
            attack=self.attack if adversarial else None,
        )


class Checkpoints(Section):
    every: Count
    fractional: list[Annotated[float, Field(gt=0)]] = _unique()


class Phase1Settings(Phase):
    regimes: list[Regime] = _unique(min_length=1)
    seeds: list[Seed] = Field(min_length=1)
    flip_epoch: Count
    checkpoints: Checkpoints

    def training(self, regimes: Sequence[str]) -> Training:
        """As :meth:`Phase.training`, with ``flip_epoch`` for the flip regime."""
        training = super().training(regimes)
        if "flip" not in regimes:
            return training
        return training.model_copy(update={"flip_epoch": self.flip_epoch})

    @property
    def runs(self) -> list[Run]:
        """All phase-1 runs: every regime crossed with every seed."""
        return [Run(regime, seed) for regime in self.regimes for seed in self.seeds]

    @property
    def checkpoint_epochs(self) -> list[float]:
        """Sorted checkpoint epochs of a run: epoch 0 (the initialisation), every
        ``checkpoints.every``-th integer epoch up to ``epochs`` (the final epoch always
        included) and the fractional epochs of ``checkpoints.fractional``."""
        integer = set(range(0, self.epochs + 1, self.checkpoints.every)) | {0, self.epochs}
        return sorted({float(e) for e in integer} | {float(e) for e in self.checkpoints.fractional})


class Phase2Settings(Phase):
    spawn_epochs: list[Annotated[float, Field(ge=0)]] = _unique(min_length=1)
    dynamics: list[Dynamics] = _unique(min_length=1)
    regimes: list[Phase2Regime] = _unique(min_length=1)

    @property
    def child_kinds(self) -> list[tuple[str, str]]:
        """``(dynamics, phase2_regime)`` of the children of every spawn point, in the order of
        ``dynamics`` and, within each, of ``regimes``."""
        return [(dynamics, regime) for dynamics in self.dynamics for regime in self.regimes]


class EvaluationSettings(Section):
    batch_size: Count
    seed: Seed
    transfer: bool
    attacks: dict[str, EvaluationAttack] = Field(
        description="name: attack settings; a config file that gives this table replaces it whole",
        json_schema_extra={"propertyNames": ATTACK_NAMES},
    )

    def ensemble_members(self, name: str) -> list[str]:
        """The members of the ensemble ``name``; an attack that is no ensemble is its own one
        member."""
        attack = self.attacks[name]
        return list(attack.members) if isinstance(attack, EnsembleAttack) else [name]


class NtkSettings(Section):
    implementation: Literal["structured_derivatives", "jacobian_contraction", "ntk_vector_products"]
    tile_size: Count


class SpectrumSettings(Section):
    top_k: Count


class AlignmentSettings(Section):
    centered: bool


class EigenspaceSettings(Section):
    top_k: Count = Field(description="dimension of the leading eigenspace of each class kernel")


class StatisticsSettings(Section):
    spectrum: SpectrumSettings
    alignment: AlignmentSettings
    eigenspace: EigenspaceSettings


class FeatureSettings(Section):
    """Which eigen-features of each class kernel are judged, on which test images and attack."""

    top: Count = Field(description="leading eigen-features (largest eigenvalues) judged")
    bottom: int = Field(ge=0, description="trailing eigen-features (smallest eigenvalues) judged")
    test_images: Count | None = Field(
        description="test images each feature is judged on: the first n of the test set (all if "
        "it has fewer); null: all"
    )
    attack: Attack = Field(description="PGD against each feature's classifier")


class PictureSettings(Section):
    """Feature pictures: images that maximise the cosine with the parameter directions of the
    top eigenvectors of class kernels (:mod:`ntk_evolution.kernels.pictures`)."""

    classes: list[Annotated[int, Field(ge=0)]] = _unique(
        "classes whose kernels are drawn", min_length=1
    )
    epochs: list[Annotated[float, Field(ge=0)]] | None = _unique(
        "checkpoint epochs drawn; null: the first and the last", min_length=1
    )
    top: Count = Field(description="leading eigenvectors drawn per class kernel")
    steps: Count = Field(description="signed-gradient ascent steps from mid-grey")
    step_size: Positive = Field(description="size of each step (pixels lie in 0..1)")

    def selected_epochs(self, checkpoint_epochs: Sequence[float]) -> list[float]:
        """The epochs drawn: ``epochs``, or the first and last of ``checkpoint_epochs``."""
        return _epochs_or_ends(self.epochs, checkpoint_epochs)


class MachinesSettings(Section):
    """Kernel machines (ridge regression on the probes with each checkpoint's per-logit NTK),
    and their eigen-features (:mod:`ntk_evolution.kernels.machines`)."""

    ridge: Positive = Field(description="lambda_c as a share of K_c's mean eigenvalue tr(K_c)/n")
    centered_targets: bool = Field(description="one-hot targets less 1/C")
    epochs: list[Annotated[float, Field(ge=0)]] | None = _unique(
        "checkpoint epochs analysed; null: every checkpoint", min_length=1
    )
    test_images: Count | None = Field(
        description="test images the machines are judged on (the first of the test set); null: all"
    )
    attacks: list[str] | None = _unique(
        "evaluation attacks the machines are judged by, at their own epsilon (an ensemble "
        "brings its members); null: all",
        min_length=1,
    )
    features: FeatureSettings

    def judged_by(self, evaluation: EvaluationSettings) -> EvaluationSettings:
        """``evaluation`` with only the attacks that judge the machines, in its order."""
        if self.attacks is None:
            return evaluation
        names = {m for name in self.attacks for m in [name, *evaluation.ensemble_members(name)]}
        attacks = {n: a for n, a in evaluation.attacks.items() if n in names}
        return evaluation.model_copy(update={"attacks": attacks})

    def selected_epochs(self, checkpoint_epochs: Sequence[float]) -> list[float]:
        """The epochs analysed: ``epochs``, or every one of ``checkpoint_epochs``."""
        return sorted(map(float, checkpoint_epochs if self.epochs is None else self.epochs))


class InfiniteWidthSettings(Section):
    """The infinite-width NTK of the configured architecture on the probes
    (:mod:`ntk_evolution.kernels.infinite`): every snapshot's distance to it, and its kernel machine."""

    kernel: bool = Field(
        description="compute it and every snapshot's distance to it (skipped, with a note, "
        "where it is out of reach)"
    )
    machine: bool = Field(
        description="judge its kernel machine too, with the machines' ridge, targets and test "
        "images (needs kernel)"
    )


class AttackedSettings(Section):
    """Kernels on the probes' adversarial versions, crafted against each checkpoint's own
    network (:mod:`ntk_evolution.kernels.attacked`)."""

    epochs: list[Annotated[float, Field(ge=0)]] | None = _unique(
        "checkpoint epochs whose attacked kernels are computed; null: the first and the last",
        min_length=1,
    )
    attack: str = Field(description="the evaluation attack crafting them, at its own epsilon")

    def selected_epochs(self, checkpoint_epochs: Sequence[float]) -> list[float]:
        """The epochs computed: ``epochs``, or the first and last of ``checkpoint_epochs``."""
        return _epochs_or_ends(self.epochs, checkpoint_epochs)


class FindingsSettings(Section):
    """The thresholds of the paper's findings (:mod:`ntk_evolution.analyses.findings`)."""

    kernel_distance: Literal["raw", "centered"]
    distance_ratio: Positive
    settle_fraction: float = Field(gt=0, le=1)
    settle_by: float = Field(gt=0, le=1)
    benign_robust_max: Share
    robust_margin: float = Field(ge=-1, le=1)
    masking_tolerance: Share
    attack: str = Field(description="the evaluation attack (an ensemble, say) F3 and F4 judge")
    black_box: str = Field(
        description="the evaluation attack F4 compares with, one that needs no gradient (square)"
    )


class Config(Section):
    """Configuration of the ntk-evolution workflow (config.yaml)."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="the scenario this config makes, without a scenarios file: its results go "
        "to results/<name>/",
    )
    scenarios: str | None = Field(
        description="a YAML file mapping scenario names to the settings each changes (nested "
        "like this config); every scenario runs in one workflow, results/<scenario>/ each. "
        "null: one scenario, named by name"
    )
    dataset: DatasetSettings
    model: ModelSettings
    phase1: Phase1Settings
    phase2: Phase2Settings
    evaluation: EvaluationSettings
    ntk: NtkSettings
    statistics: StatisticsSettings
    machines: MachinesSettings
    pictures: PictureSettings
    infinite_width: InfiniteWidthSettings
    attacked: AttackedSettings
    findings: FindingsSettings
    compilation_cache: str | None = Field(
        description="folder of JAX's persistent compilation cache, shared by every job of the "
        "workflow (relative to the working directory); null: every job compiles afresh"
    )
    gpu: bool = Field(
        default=False,
        description="true: training, kernel, evaluation and kernel-machine jobs each declare gpu=1 "
        "(one GPU per job)",
    )


def _without_titles(schema: Any) -> Any:
    """``schema`` less the ``title`` of every model and field (the keys name them already)."""
    if isinstance(schema, dict):
        return {k: _without_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    return schema


def _tagged(schema: Any) -> Any:
    """``schema`` with every tagged union (pydantic's ``oneOf`` with a ``discriminator``) as a
    required tag and one ``if``/``then`` per tag, so that a validator reports the mistakes of
    the one class the tag names, under their own keys, rather than that no class matched."""
    if isinstance(schema, list):
        return [_tagged(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _tagged(value) for key, value in schema.items()}
    if "discriminator" not in schema:
        return schema
    tag, mapping = schema["discriminator"]["propertyName"], schema["discriminator"]["mapping"]
    return {
        "type": "object",
        "required": [tag],
        "properties": {tag: {"enum": list(mapping)}},
        "allOf": [
            {
                "if": {"required": [tag], "properties": {tag: {"const": value}}},
                "then": {"$ref": ref},
            }
            for value, ref in mapping.items()
        ],
    }


def config_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of :class:`Config`."""
    schema = _tagged(_without_titles(Config.model_json_schema()))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


SCHEMA_HEADER = (
    "# Generated from src/ntk_evolution/configuration/settings.py by `python -m ntk_evolution.configuration.settings`;\n"
    "# edit the classes there, not this file.\n"
)


def schema_text() -> str:
    """The text of ``workflow/schemas/config.schema.yaml``."""
    import yaml

    return SCHEMA_HEADER + yaml.safe_dump(config_schema(), sort_keys=False, width=100)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "workflow/schemas/config.schema.yaml")
    target.write_text(schema_text())
