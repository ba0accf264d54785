# Phase 1: standard dynamics from a random initialisation, benign, adversarial or flip,
# keeping a checkpoint at every scheduled (possibly fractional) epoch.

CHECKPOINTS = [os.path.basename(phase1_checkpoint(epoch)) for epoch in EPOCHS]


rule train_phase1:
    input:
        split=rules.split_dataset.output[0],
        code=code_of("train_phase1"),
    output:
        # One multiext output (the history, its provenance, then a checkpoint per epoch) lets
        # Snakemake's between-workflow cache store the whole run (and rules out a benchmark).
        multiext(PHASE1_RUN, "history.csv", "history.provenance.json", *CHECKPOINTS),
    log:
        logs("train_phase1", PER_RUN),
    cache: "omit-software"
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=lambda w: training_minutes(phase1_training(w.regime), [w.regime]),
            gpu=True,
        ),
    params:
        model=config["model"],
        training=lambda w: phase1_training(w.regime).model_dump(exclude_none=True),
        checkpoint_epochs=CHECKPOINT_EPOCHS,
    script:
        "../scripts/train_phase1.py"
