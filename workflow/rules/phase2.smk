# Phase 2: children spawned from a phase-1 checkpoint, trained with the kernel frozen
# (linearized, centered) or not (standard, the control), on benign or adversarial data.
# The children of one spawn point are trained in one job.

CHILD = "results/phase2/{regime}/seed{seed}/spawn{spawn}/{dynamics}/{phase2_regime}/"


rule train_children:
    input:
        spawn=phase1_checkpoint("{spawn}"),
        split=rules.split_dataset.output[0],
        code=code_of("train_children"),
    output:
        children=each_child(f"{CHILD}params.npz"),
        histories=each_child(f"{CHILD}history.csv"),
    log:
        logs("train_children", PER_RUN, "spawn{spawn}"),
    benchmark:
        benchmarks("train_children", PER_RUN, "spawn{spawn}")
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=training_minutes(
                PHASE2_TRAINING, SETTINGS.phase2.regimes, weight=2
            ),
            gpu=True,
        ),
    params:
        model=config["model"],
        training=PHASE2_TRAINING.model_dump(exclude_none=True),
    script:
        "../scripts/train_children.py"
