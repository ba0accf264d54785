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
