# Phase 2: children spawned from a phase-1 checkpoint, trained with the kernel frozen
# (linearized, centered) or not (standard, the control), on benign or adversarial data.
# The children of one spawn point are trained in one job.

CHILD = "phase2/" + RUN + "spawn{spawn}/{dynamics}/{phase2_regime}/"


def children_settings(s):
    """What a children's job depends on: phase 2's training of every phase-2 regime."""
    phase2 = s.settings.phase2
    training = phase2.training(phase2.regimes)
    return {"model": s.config["model"], "training": training.model_dump(exclude_none=True)}


def children_key(s, regime):
    kinds = s.settings.phase2.child_kinds  # the files a job writes
    inputs = [phase1_key(s, regime), split_key(s), kinds]
    return keyed("train_children", s, children_settings(s), inputs)


def each_child(pattern, kinds):
    """``pattern`` for every child of a spawn point, in the order a job's script reads the
    children from these paths (ntk_evolution.experiment.JobSubject); other wildcards stay."""
    dynamics, regimes = zip(*kinds)
    return expand(
        pattern, zip, dynamics=dynamics, phase2_regime=regimes, allow_missing=True
    )


def children_files(s, regime, seed, spawn, name):
    """A file (``params.npz``, ``history.csv``) of every child of a spawn point."""
    pattern = shared(
        children_key(s, regime), CHILD, regime=regime, seed=seed, spawn=spawn,
        dynamics="{dynamics}", phase2_regime="{phase2_regime}",
    ) + name  # fmt: skip
    return each_child(pattern, s.settings.phase2.child_kinds)


def phase2_results(s):
    return [
        path
        for run in s.runs
        for spawn in s.spawns
        for name in ("params.npz", "history.csv")
        for path in children_files(s, run.regime, run.seed, spawn, name)
    ]


# One rule per set of children's kinds among the scenarios, as a rule's files are fixed.
CHILD_KINDS = one_of(
    SCENARIOS.values(),
    lambda s: [
        (children_key(s, regime), tuple(s.settings.phase2.child_kinds))
        for regime in s.regimes
    ],
)

for index, (kinds, keys) in enumerate(CHILD_KINDS):

    rule:
        name:
            variant("train_children", index)
        input:
            spawn=lambda w: checkpoint(owner(w), w.regime, w.seed, w.spawn),
            split=lambda w: split_path(owner(w)),
            code=code_of("train_children"),
        output:
            children=each_child(shared_pattern(CHILD + "params.npz"), kinds),
            histories=each_child(shared_pattern(CHILD + "history.csv"), kinds),
        wildcard_constraints:
            key=keys,
        log:
            logs("train_children", "{key}", PER_RUN, "spawn{spawn}"),
        benchmark:
            benchmarks("train_children", "{key}", PER_RUN, "spawn{spawn}")
        conda:
            GPU_ENV
        resources:
            **job_resources(
                mem_mb=8000,
                runtime=lambda s, w: training_minutes(
                    s.settings.phase2.training(s.settings.phase2.regimes),
                    s.settings.phase2.regimes,
                    weight=2,
                ),
                gpu=True,
            ),
        params:
            **job_params(children_settings, "model", "training"),
        script:
            "../scripts/train_children.py"
