# Phase 2: children spawned from a phase-1 checkpoint, trained with the kernel frozen
# (linearized, centered) or not (standard, the control), on benign or adversarial data.
# The children of one spawn point are trained in one job.


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
            spawn=lambda w: checkpoint_file(owner(w), w.regime, w.seed, w.spawn),
            split=lambda w: split_path(owner(w)),
            code=code_of("train_children"),
        output:
            children=each_child(shared_pattern(f"{CHILD}params.npz"), kinds),
            histories=each_child(shared_pattern(f"{CHILD}history.csv"), kinds),
        log:
            logs("train_children", "{key}", PER_RUN, "spawn{spawn}"),
        benchmark:
            benchmarks("train_children", "{key}", PER_RUN, "spawn{spawn}")
        wildcard_constraints:
            key=keys,
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
