# Empirical per-logit NTK of the probe set at every checkpoint of a run, into one store. One job
# computes every checkpoint of a run: they all come from one training job, so they rerun
# together anyway, and the job starts up and compiles the kernel once instead of per epoch.


rule extract_ntk:
    input:
        checkpoints=run_checkpoints,
        split=lambda w: split_path(owner(w)),
        probes=lambda w: probes_path(owner(w)),
        code=code_of("extract_ntk"),
    output:
        directory(shared_pattern(KERNELS)),
    log:
        logs("extract_ntk", "{key}", PER_RUN),
    benchmark:
        benchmarks("extract_ntk", "{key}", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000, runtime=lambda s, w: 60 + 10 * len(s.epochs), gpu=True
        ),
    params:
        **job_params(kernel_settings, "model", "ntk", "epochs"),
    script:
        "../scripts/extract_ntk.py"


rule infinite_ntk:
    input:
        split=lambda w: split_path(owner(w)),
        probes=lambda w: probes_path(owner(w)),
        code=code_of("infinite_ntk"),
    output:
        directory(shared_pattern(INFINITE_KERNEL)),
    log:
        logs("infinite_ntk", "{key}"),
    benchmark:
        benchmarks("infinite_ntk", "{key}")
    conda:
        GPU_ENV
    resources:
        **job_resources(mem_mb=8000, runtime=60, gpu=True),
    params:
        **job_params(infinite_settings, "model", "ntk"),
    script:
        "../scripts/infinite_ntk.py"


rule attacked_ntk:
    input:
        checkpoints=lambda w: run_checkpoints(
            w, [experiment.epoch_label(e) for e in attacked_epochs(owner(w))]
        ),
        kernels=lambda w: kernel_path(owner(w), w.regime, w.seed),
        split=lambda w: split_path(owner(w)),
        code=code_of("attacked_ntk"),
    output:
        kernels=directory(shared_pattern(ATTACKED_KERNELS)),
        statistics=directory(shared_pattern(ATTACKED_STATISTICS)),
    log:
        logs("attacked_ntk", "{key}", PER_RUN),
    benchmark:
        benchmarks("attacked_ntk", "{key}", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=lambda s, w: 60 + 30 * len(attacked_epochs(s)),
            gpu=True,
        ),
    params:
        **job_params(
            attacked_settings, "model", "ntk", "evaluation", "attacked", "epochs"
        ),
    script:
        "../scripts/attacked_ntk.py"
