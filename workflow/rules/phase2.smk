# Phase 2: children spawned from a phase-1 checkpoint, trained with the kernel frozen
# (linearized, centered) or not (standard, the control), on benign or adversarial data.
# The children of one spawn point are trained in one job.


rule train_children:
    input:
        spawn="results/phase1/{regime}/seed{seed}/epoch{spawn}.npz",
        split="results/data/split.npz",
        code=code(
            "models.py", "dynamics.py", "training.py", "attacks.py", "checkpoints.py"
        ),
    output:
        params=child_paths(
            "results/phase2/{regime}/seed{seed}/spawn{spawn}/{dynamics}/{phase2_regime}/params.npz"
        ),
        histories=child_paths(
            "results/phase2/{regime}/seed{seed}/spawn{spawn}/{dynamics}/{phase2_regime}/history.csv"
        ),
    log:
        "logs/train_children/{regime}-seed{seed}-spawn{spawn}.log",
    benchmark:
        "logs/benchmarks/train_children/{regime}-seed{seed}-spawn{spawn}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=training_minutes(
                "phase2", [regime for _, regime in CHILD_KINDS], weight=2
            ),
            gpu=True,
        ),
    params:
        children=CHILD_KINDS,
        model=config["model"],
        phase2=training_settings(
            "phase2",
            (
                "adversarial"
                if "adversarial" in config["phase2"]["regimes"]
                else "benign"
            ),
            [],
        ),
    script:
        "../scripts/train_children.py"
