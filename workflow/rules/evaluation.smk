# Evaluation on the whole test set: clean, robust (white-box PGD) and transfer accuracy of every
# final phase-1 network and every child, gathered into one table and one dataset. The white-box
# adversarial images of a final phase-1 network are kept: they are the transfer attack on every
# child of its run. Every attack is measured at its own epsilon and at every radius of its
# `epsilons`; results and stored images are keyed by attack and epsilon.


rule evaluate_phase1:
    input:
        checkpoint=lambda w: checkpoint_file(
            owner(w), w.regime, w.seed, owner(w).epochs[-1]
        ),
        split=lambda w: split_path(owner(w)),
        code=code_of("evaluate_phase1"),
    output:
        table=shared_pattern(f"{EVALUATION}phase1.csv"),
        adversarial=shared_pattern(f"{EVALUATION}phase1_adversarial.npz"),
    log:
        logs("evaluate_phase1", "{key}", PER_RUN),
    benchmark:
        benchmarks("evaluate_phase1", "{key}", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000, runtime=evaluation_minutes_of(lambda s: 1), gpu=True
        ),
    params:
        **job_params(evaluation_settings, "model", "evaluation"),
    script:
        "../scripts/evaluate_phase1.py"


rule evaluate_children:
    input:
        children=lambda w: children_files(
            owner(w), w.regime, w.seed, w.spawn, "params.npz"
        ),
        spawn=lambda w: checkpoint_file(owner(w), w.regime, w.seed, w.spawn),
        parent_adversarial=lambda w: parent_evaluation(
            owner(w), w.regime, w.seed, "phase1_adversarial.npz"
        ),
        split=lambda w: split_path(owner(w)),
        code=code_of("evaluate_children"),
    output:
        shared_pattern(f"{EVALUATION}spawn{{spawn}}.csv"),
    log:
        logs("evaluate_children", "{key}", PER_RUN, "spawn{spawn}"),
    benchmark:
        benchmarks("evaluate_children", "{key}", PER_RUN, "spawn{spawn}")
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=evaluation_minutes_of(
                lambda s: len(s.settings.phase2.child_kinds)
            ),
            gpu=True,
        ),
    params:
        **job_params(evaluation_settings, "model", "evaluation"),
    script:
        "../scripts/evaluate_children.py"


rule gather_evaluation:
    input:
        unpack(lambda w: gather_inputs(owner(w))),
        code=code_of("gather_evaluation"),
    output:
        table=shared_pattern(f"{ACCURACY}.csv"),
        store=directory(shared_pattern(f"{ACCURACY}.zarr")),
    log:
        logs("gather_evaluation", "{key}"),
    benchmark:
        benchmarks("gather_evaluation", "{key}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        **job_params(gather_settings, "config"),
    script:
        "../scripts/gather_evaluation.py"
