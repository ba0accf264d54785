# Phase 1: standard dynamics from a random initialisation, benign, adversarial or flip,
# keeping a checkpoint at every scheduled (possibly fractional) epoch.


rule train_phase1:
    input:
        split="results/data/split.npz",
        code=code("models.py", "training.py", "attacks.py", "checkpoints.py"),
    output:
        # One multiext output (the history, its provenance, then a checkpoint per epoch) lets
        # Snakemake's between-workflow cache store the whole run (and rules out a benchmark).
        multiext(
            "results/phase1/{regime}/seed{seed}/",
            "history.csv",
            "history.provenance.json",
            *[f"epoch{epoch}.npz" for epoch in EPOCHS],
        ),
    log:
        "logs/train_phase1/{regime}-seed{seed}.log",
    cache: "omit-software"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=lambda w: training_minutes("phase1", [w.regime]),
            gpu=True,
        ),
    params:
        model=config["model"],
        phase1=lambda w: training_settings("phase1", w.regime, ["checkpoints"]),
        checkpoint_epochs=checkpoint_epochs(config["phase1"]),
    script:
        "../scripts/train_phase1.py"
