# What each kernel does. At every analysed checkpoint of a run, the kernel machine of its
# per-logit NTK (ridge regression on the probes) is judged clean, under the evaluation attacks
# crafted against the machine itself and on the parent's stored adversarial images; so is each
# of its leading and trailing eigen-features. Feature pictures draw the image each top
# eigenvector of a class kernel stands for, for the first seed of every regime, in one job.

MACHINES = "machines/" + RUN + "machines.zarr"
FEATURES = "machines/" + RUN + "features.zarr"


def machine_epochs(s):
    return s.settings.machines.analysed(s.checkpoint_epochs)


def machine_evaluation(s):
    """What a machine job reads of the evaluation: the attacks at their own epsilon only."""
    return s.settings.evaluation.model_dump(exclude={"attacks": {"__all__": {"epsilons"}}})


def machine_settings(s):
    return {
        "model": s.config["model"],
        "machines": s.config["machines"],
        "evaluation": machine_evaluation(s),
        "epochs": machine_epochs(s),
    }


def machine_key(s, regime):
    inputs = [
        phase1_key(s, regime),
        kernel_key(s, regime),
        split_key(s),
        parent_evaluation_key(s, regime),
    ]
    return keyed("kernel_machines", s, machine_settings(s), inputs)


def machine_path(layout):
    """The path of a run's ``layout`` (machines or features) for scenario ``s``."""
    return lambda s, regime, seed: shared(
        machine_key(s, regime), layout, regime=regime, seed=seed
    )


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


PICTURES = "machines/pictures.zarr"


def picture_runs(s):
    """The runs drawn: the first seed of every regime."""
    return [run for run in s.runs if run.seed == s.settings.phase1.seeds[0]]


def picture_epochs(s):
    return s.settings.pictures.drawn(s.checkpoint_epochs)


def picture_inputs(s):
    """Run by run, the checkpoints at every drawn epoch, then each run's kernels."""
    epochs = [experiment.epoch_label(e) for e in picture_epochs(s)]
    runs = picture_runs(s)
    return {
        "checkpoints": [checkpoint(s, r.regime, r.seed, e) for r in runs for e in epochs],
        "runs": [kernel_path(s, r.regime, r.seed) for r in runs],
        "split": split_path(s),
    }


def picture_settings(s):
    return {
        "model": s.config["model"],
        "pictures": s.config["pictures"],
        "epochs": picture_epochs(s),
    }


def picture_key(s):
    return keyed("feature_pictures", s, picture_settings(s), [picture_inputs(s)])


def pictures_path(s):
    return shared(picture_key(s), PICTURES)


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


# The infinite-width NTK's kernel machine, judged as the trained kernels' machines are: a
# baseline beside them in the machines' figure.
INFINITE_MACHINE = "machines/infinite.zarr"


def infinite_machine_settings(s):
    return {
        "model": s.config["model"],
        "machines": s.config["machines"],
        "evaluation": machine_evaluation(s),
    }


def infinite_machine(s):
    """The scenario's infinite-width machine: none where it is off or out of reach."""
    if not (infinite_kernel(s) and s.settings.infinite_width.machine):
        return []
    inputs = [infinite_key(s), split_key(s)]
    key = keyed("infinite_machine", s, infinite_machine_settings(s), inputs)
    return [shared(key, INFINITE_MACHINE)]


def machine_results(s):
    runs = [
        machine_path(layout)(s, run.regime, run.seed)
        for run in s.runs
        for layout in (MACHINES, FEATURES)
    ]
    return [*runs, pictures_path(s), *infinite_machine(s)]


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
        **job_resources(mem_mb=8000, runtime=evaluation_minutes_of(lambda s: 30), gpu=True),
    params:
        **job_params(infinite_machine_settings, "model", "machines", "evaluation"),
    script:
        "../scripts/infinite_machine.py"
