# The dataset: a seeded train/test split and a class-balanced probe set for the kernels.
# CIFAR archives are fetched only on request (`snakemake <archive path>`), never as a side
# effect of a run: a missing archive stops the run before any job, naming the command. An
# archive in place is never fetched again, so never deleted (archive_in_place); so that an
# edited module does not ask for it again either, download_dataset lists no code.


localrules:
    download_dataset,


rule download_dataset:
    input:
        archive_in_place,
    output:
        f"{DATA_ROOT}/{{archive}}",
    log:
        logs("download_dataset", "{archive}"),
    benchmark:
        benchmarks("download_dataset", "{archive}")
    wildcard_constraints:
        archive="|".join(re.escape(name) for name in ARCHIVES),
    conda:
        ENV
    resources:
        **job_resources(mem_mb=500, runtime=60),
    params:
        url=lambda w: archive_url(w.archive),
        md5=lambda w: ARCHIVES[w.archive].md5,
    script:
        "../scripts/download_dataset.py"


rule split_dataset:
    input:
        dataset=dataset_source,
        code=code_of("split_dataset"),
    output:
        shared_pattern(SPLIT),
    log:
        logs("split_dataset", "{key}"),
    benchmark:
        benchmarks("split_dataset", "{key}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=4000, runtime=10),
    params:
        **job_params(split_settings, "dataset"),
    script:
        "../scripts/split_dataset.py"


rule select_probes:
    input:
        split=lambda w: split_path(owner(w)),
        code=code_of("select_probes"),
    output:
        shared_pattern(PROBES),
    log:
        logs("select_probes", "{key}"),
    benchmark:
        benchmarks("select_probes", "{key}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=4000, runtime=10),
    params:
        **job_params(probes_settings, "per_class", "seed"),
    script:
        "../scripts/select_probes.py"
