# Empirical per-logit NTK of the probe set at every checkpoint of a run, into one store. One job
# computes every checkpoint of a run: they all come from one training job, so they rerun
# together anyway, and the job starts up and compiles the kernel once instead of per epoch.

KERNELS = "kernels/" + RUN + "ntk.zarr"


def kernel_settings(s):
    return {"model": s.config["model"], "ntk": s.config["ntk"], "epochs": s.checkpoint_epochs}


def kernel_key(s, regime):
    inputs = [phase1_key(s, regime), split_key(s), probes_key(s)]
    return keyed("extract_ntk", s, kernel_settings(s), inputs)


def kernel_path(s, regime, seed):
    return shared(kernel_key(s, regime), KERNELS, regime=regime, seed=seed)


def run_checkpoints(w, epochs=None):
    """The checkpoints of the job's run at ``epochs`` (labels; all by default)."""
    s = owner(w)
    return [checkpoint(s, w.regime, w.seed, e) for e in epochs or s.epochs]


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


# The infinite-width reference: the analytic NTK of the same architecture on the probes, once
# per architecture and data. Where it is out of reach (the ResNet), the workflow says so here,
# when the DAG is built, and every statistic and figure goes without it.
INFINITE_KERNEL = "kernels/infinite.zarr"


def infinite_reason(s):
    shape = DATASET_SIZES[s.settings.dataset.name].shape
    return reference_reason(s.settings.model.architecture, shape)


def infinite_within_reach(s):
    return s.settings.infinite_width.kernel and infinite_reason(s) is None


for s in SCENARIOS.values():
    if s.settings.infinite_width.kernel and infinite_reason(s):
        logger.warning(
            f"infinite_width ({s.name}): skipped for this architecture. {infinite_reason(s)}"
        )


def infinite_settings(s):
    return {"model": s.config["model"], "ntk": s.config["ntk"]}


def infinite_key(s):
    inputs = [split_key(s), probes_key(s)]
    return keyed("infinite_ntk", s, infinite_settings(s), inputs)


def infinite_kernel(s):
    """The scenario's infinite-width kernel: none where it is off or out of reach."""
    if not infinite_within_reach(s):
        return []
    return [shared(infinite_key(s), INFINITE_KERNEL)]


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


# Kernels on attacked inputs: at the chosen checkpoints of a run, the probes attacked by an
# evaluation attack against the checkpoint's own network, their kernel, the cross kernel with
# the clean probes and how far the attack moves them. One job per run, as for the clean kernels.
ATTACKED_KERNELS = "kernels/" + RUN + "attacked.zarr"
ATTACKED_STATISTICS = "statistics/" + RUN + "attacked.zarr"


def attacked_epochs(s):
    return s.settings.attacked.chosen(s.checkpoint_epochs)


def attacked_settings(s):
    """What the job reads of the evaluation: its seed, batch size and the one attack, sans
    radii."""
    attacks = s.settings.evaluation.attacks
    name = s.settings.attacked.attack
    evaluation = s.settings.evaluation.model_copy(update={"attacks": {name: attacks[name]}})
    return {
        "model": s.config["model"],
        "ntk": s.config["ntk"],
        "evaluation": evaluation.model_dump(exclude={"attacks": {"__all__": {"epsilons"}}}),
        "attacked": s.config["attacked"],
        "epochs": attacked_epochs(s),
    }


def attacked_key(s, regime):
    inputs = [kernel_key(s, regime), phase1_key(s, regime), split_key(s)]
    return keyed("attacked_ntk", s, attacked_settings(s), inputs)


def attacked_statistics(s, regime, seed):
    return shared(attacked_key(s, regime), ATTACKED_STATISTICS, regime=regime, seed=seed)


def kernel_results(s):
    runs = [
        path
        for run in s.runs
        for key, layout in (
            (kernel_key(s, run.regime), KERNELS),
            (attacked_key(s, run.regime), ATTACKED_KERNELS),
            (attacked_key(s, run.regime), ATTACKED_STATISTICS),
        )
        for path in [shared(key, layout, regime=run.regime, seed=run.seed)]
    ]
    return [*runs, *infinite_kernel(s)]


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
        **job_params(attacked_settings, "model", "ntk", "evaluation", "attacked", "epochs"),
    script:
        "../scripts/attacked_ntk.py"
