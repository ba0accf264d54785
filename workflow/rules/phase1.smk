# Phase 1: standard dynamics from a random initialisation, benign, adversarial or flip,
# keeping a checkpoint at every scheduled (possibly fractional) epoch.


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
        log:
            logs("train_phase1", "{key}", PER_RUN),
        wildcard_constraints:
            key=keys,
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
