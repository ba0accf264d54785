# Phase 1: standard dynamics from a random initialisation, benign, adversarial or flip,
# keeping a checkpoint at every scheduled (possibly fractional) epoch.

PHASE1_RUN = "phase1/" + RUN


def phase1_settings(s, regime):
    """What a run of ``regime`` depends on: a benign run never reruns for the attack."""
    return {
        "model": s.config["model"],
        "training": s.settings.phase1.training([regime]).model_dump(exclude_none=True),
        "checkpoint_epochs": s.checkpoint_epochs,
    }


def phase1_key(s, regime):
    return keyed("train_phase1", s, phase1_settings(s, regime), [split_key(s)])


def phase1_file(s, regime, seed, name):
    """A file of a phase-1 run of scenario ``s``: its history or ``epoch<e>.npz``."""
    key = phase1_key(s, regime)
    return shared(key, PHASE1_RUN + name, regime=regime, seed=seed)


def checkpoint(s, regime, seed, epoch):
    """A phase-1 run's checkpoint at ``epoch`` (a label)."""
    return phase1_file(s, regime, seed, f"epoch{epoch}.npz")


def phase1_results(s):
    return [
        phase1_file(s, run.regime, run.seed, name)
        for run in s.runs
        for name in ["history.csv", *(f"epoch{epoch}.npz" for epoch in s.epochs)]
    ]


# One rule per checkpoint schedule among the scenarios, as a rule's files are fixed.
SCHEDULES = one_of(
    SCENARIOS.values(),
    lambda s: [(phase1_key(s, regime), tuple(s.epochs)) for regime in s.regimes],
)

for index, (schedule, keys) in enumerate(SCHEDULES):

    rule:
        name:
            variant("train_phase1", index)
        input:
            split=lambda w: split_path(owner(w)),
            code=code_of("train_phase1"),
        output:
            # One multiext output (the history, its provenance, then a checkpoint per epoch)
            # lets Snakemake's between-workflow cache store the whole run (and rules out a
            # benchmark).
            multiext(
                shared_pattern(PHASE1_RUN),
                "history.csv",
                "history.provenance.json",
                *(f"epoch{epoch}.npz" for epoch in schedule),
            ),
        wildcard_constraints:
            key=keys,
        log:
            logs("train_phase1", "{key}", PER_RUN),
        cache: "omit-software"
        conda:
            GPU_ENV
        resources:
            **job_resources(
                mem_mb=8000,
                runtime=lambda s, w: training_minutes(
                    s.settings.phase1.training([w.regime]), [w.regime]
                ),
                gpu=True,
            ),
        params:
            **job_params(phase1_settings, "model", "training", "checkpoint_epochs"),
        script:
            "../scripts/train_phase1.py"
