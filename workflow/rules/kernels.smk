# Empirical per-logit NTK of the probe set at every checkpoint, then one store per run. One
# job computes every checkpoint of a run: they all come from one training job, so they rerun
# together anyway, and the job compiles the kernel and starts up once instead of per epoch.

SNAPSHOT = "results/kernels/{regime}/seed{seed}/epoch{epoch}.zarr"


rule extract_ntk:
    input:
        checkpoints=each_epoch(phase1_checkpoint("{epoch}")),
        split=rules.split_dataset.output[0],
        probes=rules.select_probes.output[0],
        code=code_of("extract_ntk"),
    output:
        snapshots=[directory(path) for path in each_epoch(SNAPSHOT)],
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


rule gather_kernels:
    input:
        snapshots=rules.extract_ntk.output.snapshots,
        code=code_of("gather_kernels"),
    output:
        directory("results/kernels/{regime}/seed{seed}/ntk.zarr"),
    log:
        logs("gather_kernels", PER_RUN),
    benchmark:
        benchmarks("gather_kernels", PER_RUN)
    conda:
        ENV
    resources:
        **job_resources(mem_mb=4000, runtime=30),
    params:
        tile_size=config["ntk"]["tile_size"],
    script:
        "../scripts/gather_kernels.py"
