# What each kernel does. At every analysed checkpoint of a run, the kernel machine of its
# per-logit NTK (ridge regression on the probes) is judged clean, under the evaluation attacks
# crafted against the machine itself and on the parent's stored adversarial images; so is each
# of its leading and trailing eigen-features. Feature pictures draw the image each top
# eigenvector of a class kernel stands for, for the first seed of every regime, in one job.


rule kernel_machines:
    input:
        checkpoints=lambda w: run_checkpoints(
            w, [experiment.epoch_label(e) for e in machine_epochs(owner(w))]
        ),
        kernels=lambda w: kernel_path(owner(w), w.regime, w.seed),
        split=lambda w: split_path(owner(w)),
        parent_adversarial=lambda w: parent_evaluation(
            owner(w), w.regime, w.seed, "phase1_adversarial.npz"
        ),
        code=code_of("kernel_machines"),
    output:
        machines=directory(shared_pattern(MACHINES)),
        features=directory(shared_pattern(FEATURES)),
    log:
        logs("kernel_machines", "{key}", PER_RUN),
    benchmark:
        benchmarks("kernel_machines", "{key}", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=lambda s, w: machine_minutes(
                s.settings.machines, s.settings.evaluation, len(machine_epochs(s))
            ),
            gpu=True,
        ),
    params:
        **job_params(machine_settings, "model", "machines", "evaluation", "epochs"),
    script:
        "../scripts/kernel_machines.py"


rule feature_pictures:
    input:
        unpack(lambda w: picture_inputs(owner(w))),
        code=code_of("feature_pictures"),
    output:
        directory(shared_pattern(PICTURES)),
    log:
        logs("feature_pictures", "{key}"),
    benchmark:
        benchmarks("feature_pictures", "{key}")
    conda:
        GPU_ENV
    resources:
        **job_resources(mem_mb=8000, runtime=30, gpu=True),
    params:
        **job_params(picture_settings, "model", "pictures", "epochs"),
    script:
        "../scripts/feature_pictures.py"


rule infinite_machine:
    input:
        kernel=lambda w: single(infinite_kernel(owner(w))),
        split=lambda w: split_path(owner(w)),
        code=code_of("infinite_machine"),
    output:
        directory(shared_pattern(INFINITE_MACHINE)),
    log:
        logs("infinite_machine", "{key}"),
    benchmark:
        benchmarks("infinite_machine", "{key}")
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000, runtime=evaluation_minutes_of(lambda s: 30), gpu=True
        ),
    params:
        **job_params(infinite_machine_settings, "model", "machines", "evaluation"),
    script:
        "../scripts/infinite_machine.py"
