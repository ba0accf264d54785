# Empirical per-logit NTK of the probe set at every checkpoint of a run, into one store. One job
# computes every checkpoint of a run: they all come from one training job, so they rerun
# together anyway, and the job starts up and compiles the kernel once instead of per epoch.


rule extract_ntk:
    input:
        checkpoints=each_epoch(phase1_checkpoint("{epoch}")),
        split=rules.split_dataset.output[0],
        probes=rules.select_probes.output[0],
        code=code_of("extract_ntk"),
    output:
        directory("results/kernels/{regime}/seed{seed}/ntk.zarr"),
    log:
        logs("extract_ntk", PER_RUN),
    benchmark:
        benchmarks("extract_ntk", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(mem_mb=8000, runtime=60 + 10 * len(EPOCHS), gpu=True),
    params:
        model=config["model"],
        ntk=config["ntk"],
        epochs=CHECKPOINT_EPOCHS,
    script:
        "../scripts/extract_ntk.py"


# The infinite-width reference: the analytic NTK of the same architecture on the probes, once
# per architecture and data. Where it is out of reach (the ResNet), the workflow says so here,
# when the DAG is built, and every statistic and figure goes without it.
INFINITE_REASON = reference_reason(
    SETTINGS.model.architecture, DATASET_SIZES[SETTINGS.dataset.name].shape
)
INFINITE = SETTINGS.infinite_width.kernel and INFINITE_REASON is None
if SETTINGS.infinite_width.kernel and INFINITE_REASON:
    logger.warning(f"infinite_width: skipped for this architecture. {INFINITE_REASON}")


rule infinite_ntk:
    input:
        split=rules.split_dataset.output[0],
        probes=rules.select_probes.output[0],
        code=code_of("infinite_ntk"),
    output:
        directory("results/kernels/infinite.zarr"),
    log:
        logs("infinite_ntk"),
    benchmark:
        benchmarks("infinite_ntk")
    conda:
        GPU_ENV
    resources:
        **job_resources(mem_mb=8000, runtime=60, gpu=True),
    params:
        model=config["model"],
        ntk=config["ntk"],
    script:
        "../scripts/infinite_ntk.py"


INFINITE_KERNEL = rules.infinite_ntk.output[0] if INFINITE else []


# Kernels on attacked inputs: at the chosen checkpoints of a run, the probes attacked by an
# evaluation attack against the checkpoint's own network, their kernel, the cross kernel with
# the clean probes and how far the attack moves them. One job per run, as for the clean kernels.
ATTACKED_EPOCHS = SETTINGS.attacked.chosen(CHECKPOINT_EPOCHS)
# What the job reads of the evaluation: its seed, batch size and the one attack, sans radii.
ATTACKED_EVALUATION = SETTINGS.evaluation.model_copy(
    update={
        "attacks": {
            SETTINGS.attacked.attack: SETTINGS.evaluation.attacks[
                SETTINGS.attacked.attack
            ]
        }
    }
).model_dump(exclude={"attacks": {"__all__": {"epsilons"}}})


rule attacked_ntk:
    input:
        checkpoints=expand(
            phase1_checkpoint("{epoch}"),
            epoch=map(experiment.epoch_label, ATTACKED_EPOCHS),
            allow_missing=True,
        ),
        kernels=rules.extract_ntk.output[0],
        split=rules.split_dataset.output[0],
        code=code_of("attacked_ntk"),
    output:
        kernels=directory("results/kernels/{regime}/seed{seed}/attacked.zarr"),
        statistics=directory("results/statistics/{regime}/seed{seed}/attacked.zarr"),
    log:
        logs("attacked_ntk", PER_RUN),
    benchmark:
        benchmarks("attacked_ntk", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(mem_mb=8000, runtime=60 + 30 * len(ATTACKED_EPOCHS), gpu=True),
    params:
        model=config["model"],
        ntk=config["ntk"],
        evaluation=ATTACKED_EVALUATION,
        attacked=config["attacked"],
        epochs=ATTACKED_EPOCHS,
    script:
        "../scripts/attacked_ntk.py"
