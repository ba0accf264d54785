# What each kernel does. At every analysed checkpoint of a run, the kernel machine of its
# per-logit NTK (ridge regression on the probes) is judged clean, under the evaluation attacks
# crafted against the machine itself and on the parent's stored adversarial images; so is each
# of its leading and trailing eigen-features. Feature pictures draw the image each top
# eigenvector of a class kernel stands for, for the first seed of every regime, in one job.

MACHINE_EPOCHS = SETTINGS.machines.analysed(CHECKPOINT_EPOCHS)
PICTURE_EPOCHS = SETTINGS.pictures.drawn(CHECKPOINT_EPOCHS)
PICTURE_RUNS = [run for run in RUNS if run.seed == SETTINGS.phase1.seeds[0]]
# What a machine job reads of the evaluation: the attacks at their own epsilon only.
MACHINE_EVALUATION = SETTINGS.evaluation.model_dump(
    exclude={"attacks": {"__all__": {"epsilons"}}}
)


rule kernel_machines:
    input:
        checkpoints=expand(
            phase1_checkpoint("{epoch}"),
            epoch=map(experiment.epoch_label, MACHINE_EPOCHS),
            allow_missing=True,
        ),
        kernels=rules.extract_ntk.output[0],
        split=rules.split_dataset.output[0],
        parent_adversarial=rules.evaluate_phase1.output.adversarial,
        code=code_of("kernel_machines"),
    output:
        machines=directory("results/machines/{regime}/seed{seed}/machines.zarr"),
        features=directory("results/machines/{regime}/seed{seed}/features.zarr"),
    log:
        logs("kernel_machines", PER_RUN),
    benchmark:
        benchmarks("kernel_machines", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=machine_minutes(
                SETTINGS.machines, SETTINGS.evaluation, len(MACHINE_EPOCHS)
            ),
            gpu=True,
        ),
    params:
        model=config["model"],
        machines=config["machines"],
        evaluation=MACHINE_EVALUATION,
        epochs=MACHINE_EPOCHS,
    script:
        "../scripts/kernel_machines.py"


rule feature_pictures:
    input:
        checkpoints=[  # run by run, each at every drawn epoch
            expand(
                phase1_checkpoint("{epoch}"),
                epoch=map(experiment.epoch_label, PICTURE_EPOCHS),
                regime=run.regime,
                seed=run.seed,
            )
            for run in PICTURE_RUNS
        ],
        runs=[
            expand(rules.extract_ntk.output[0], regime=run.regime, seed=run.seed)
            for run in PICTURE_RUNS
        ],
        split=rules.split_dataset.output[0],
        code=code_of("feature_pictures"),
    output:
        directory("results/machines/pictures.zarr"),
    log:
        logs("feature_pictures"),
    benchmark:
        benchmarks("feature_pictures")
    conda:
        GPU_ENV
    resources:
        **job_resources(mem_mb=8000, runtime=30, gpu=True),
    params:
        model=config["model"],
        pictures=config["pictures"],
        epochs=PICTURE_EPOCHS,
    script:
        "../scripts/feature_pictures.py"


# The infinite-width NTK's kernel machine, judged as the trained kernels' machines are: a
# baseline beside them in the machines' figure.
INFINITE_MACHINE = INFINITE and SETTINGS.infinite_width.machine


rule infinite_machine:
    input:
        kernel=rules.infinite_ntk.output[0],
        split=rules.split_dataset.output[0],
        code=code_of("infinite_machine"),
    output:
        directory("results/machines/infinite.zarr"),
    log:
        logs("infinite_machine"),
    benchmark:
        benchmarks("infinite_machine")
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000, runtime=evaluation_minutes(SETTINGS.evaluation, 30), gpu=True
        ),
    params:
        model=config["model"],
        machines=config["machines"],
        evaluation=MACHINE_EVALUATION,
    script:
        "../scripts/infinite_machine.py"
