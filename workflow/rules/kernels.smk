# Empirical per-logit NTK of the probe set at every checkpoint, then one store per run.


rule extract_ntk:
    input:
        checkpoint=phase1_checkpoint("{epoch}"),
        split=rules.split_dataset.output[0],
        probes=rules.select_probes.output[0],
        code=code_of("extract_ntk"),
    output:
        directory("results/kernels/{regime}/seed{seed}/epoch{epoch}.zarr"),
    log:
        logs("extract_ntk", PER_RUN, "epoch{epoch}"),
    benchmark:
        benchmarks("extract_ntk", PER_RUN, "epoch{epoch}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=8000, runtime=60, gpu=True),
    params:
        model=config["model"],
        ntk=config["ntk"],
    script:
        "../scripts/extract_ntk.py"


rule gather_kernels:
    input:
        snapshots=expand(rules.extract_ntk.output[0], epoch=EPOCHS, allow_missing=True),
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
