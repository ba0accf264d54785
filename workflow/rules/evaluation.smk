# Evaluation on the whole test set: clean, robust (white-box PGD) and transfer accuracy of every
# final phase-1 network and every child, gathered into one table and one dataset. The white-box
# adversarial images of a final phase-1 network are kept: they are the transfer attack on every
# child of its run. Every attack is measured at its own epsilon and at every radius of its
# `epsilons`; results and stored images are keyed by attack and epsilon.

# Each attack's own epsilon: figures and tables that show one number per attack use it.
ATTACKS = config["evaluation"]["attacks"]
HEADLINE = {"headline": {name: attack["epsilon"] for name, attack in ATTACKS.items()}}


rule evaluate_phase1:
    input:
        checkpoint=phase1_checkpoint(FINAL_EPOCH),
        split=rules.split_dataset.output[0],
        code=code_of("evaluate_phase1"),
    output:
        table="results/evaluation/{regime}/seed{seed}/phase1.csv",
        adversarial="results/evaluation/{regime}/seed{seed}/phase1_adversarial.npz",
    log:
        logs("evaluate_phase1", PER_RUN),
    benchmark:
        benchmarks("evaluate_phase1", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000, runtime=evaluation_minutes(SETTINGS.evaluation, 1), gpu=True
        ),
    params:
        model=config["model"],
        evaluation=config["evaluation"],
    script:
        "../scripts/evaluate_phase1.py"


rule evaluate_children:
    input:
        children=rules.train_children.output.children,
        spawn=phase1_checkpoint("{spawn}"),
        parent_adversarial=rules.evaluate_phase1.output.adversarial,
        split=rules.split_dataset.output[0],
        code=code_of("evaluate_children"),
    output:
        "results/evaluation/{regime}/seed{seed}/spawn{spawn}.csv",
    log:
        logs("evaluate_children", PER_RUN, "spawn{spawn}"),
    benchmark:
        benchmarks("evaluate_children", PER_RUN, "spawn{spawn}")
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=evaluation_minutes(SETTINGS.evaluation, len(CHILD_KINDS)),
            gpu=True,
        ),
    params:
        model=config["model"],
        evaluation=config["evaluation"],
    script:
        "../scripts/evaluate_children.py"


rule gather_evaluation:
    input:
        phase1=each_run(rules.evaluate_phase1.output.table),
        children=expand(each_run(rules.evaluate_children.output[0]), spawn=SPAWNS),
        code=code_of("gather_evaluation"),
    output:
        table="results/evaluation/accuracy.csv",
        store=directory("results/evaluation/accuracy.zarr"),
    log:
        logs("gather_evaluation"),
    benchmark:
        benchmarks("gather_evaluation")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        config={key: config[key] for key in ("phase2", "evaluation")},
    script:
        "../scripts/gather_evaluation.py"
