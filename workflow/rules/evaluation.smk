# Evaluation on the whole test set: clean, robust (white-box PGD) and transfer accuracy of every
# final phase-1 network and every child, gathered into one table and one dataset. The white-box
# adversarial images of a final phase-1 network are kept: they are the transfer attack on every
# child of its run. Every attack is measured at its own epsilon and at every radius of its
# `epsilons`; results and stored images are keyed by attack and epsilon.

# Each attack's own epsilon: figures and tables that show one number per attack use it.
HEADLINE_EPSILONS = {
    name: attack["epsilon"] for name, attack in config["evaluation"]["attacks"].items()
}


rule evaluate_phase1:
    input:
        checkpoint=f"results/phase1/{{regime}}/seed{{seed}}/epoch{FINAL_EPOCH}.npz",
        split="results/data/split.npz",
        code=code("models.py", "evaluation.py", "attacks.py", "checkpoints.py"),
    output:
        table="results/evaluation/{regime}/seed{seed}/phase1.csv",
        adversarial="results/evaluation/{regime}/seed{seed}/phase1_adversarial.npz",
    log:
        "logs/evaluate_phase1/{regime}-seed{seed}.log",
    benchmark:
        "logs/benchmarks/evaluate_phase1/{regime}-seed{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=8000, runtime=evaluation_minutes(1), gpu=True),
    params:
        model=config["model"],
        evaluation=config["evaluation"],
    script:
        "../scripts/evaluate_phase1.py"


rule evaluate_children:
    input:
        children=child_paths(
            "results/phase2/{regime}/seed{seed}/spawn{spawn}/{dynamics}/{phase2_regime}/params.npz"
        ),
        spawn="results/phase1/{regime}/seed{seed}/epoch{spawn}.npz",
        parent_adversarial="results/evaluation/{regime}/seed{seed}/phase1_adversarial.npz",
        split="results/data/split.npz",
        code=code(
            "models.py", "dynamics.py", "evaluation.py", "attacks.py", "checkpoints.py"
        ),
    output:
        "results/evaluation/{regime}/seed{seed}/spawn{spawn}.csv",
    log:
        "logs/evaluate_children/{regime}-seed{seed}-spawn{spawn}.log",
    benchmark:
        "logs/benchmarks/evaluate_children/{regime}-seed{seed}-spawn{spawn}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=evaluation_minutes(len(CHILD_KINDS)),
            gpu=True,
        ),
    params:
        children=CHILD_KINDS,
        model=config["model"],
        evaluation=config["evaluation"],
    script:
        "../scripts/evaluate_children.py"


rule gather_evaluation:
    input:
        tables=[
            *run_paths("results/evaluation/{run}/phase1.csv"),
            *[
                f"results/evaluation/{run.path}/spawn{spawn}.csv"
                for run in RUNS
                for spawn in SPAWNS
            ],
        ],
        code=code("stages/evaluation.py"),
    output:
        table="results/evaluation/accuracy.csv",
        store=directory("results/evaluation/accuracy.zarr"),
    log:
        "logs/gather_evaluation.log",
    benchmark:
        "logs/benchmarks/gather_evaluation.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        config={key: config[key] for key in ("phase2", "evaluation")},
    script:
        "../scripts/gather_evaluation.py"
