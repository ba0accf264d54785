# What each job depends on, in the order of the method: for every rule, the function that gives
# its settings for a scenario (and the job's wildcards), the one that gives a job's key (a digest
# of its rule, those settings and its inputs' keys, common.smk) and the paths of its results.
# A rule's params are its settings function's values (job_params), so a key covers exactly what
# the job depends on; the rule modules hold the rules alone.

# --- The dataset's split and probes.

SPLIT = "data/split.npz"


SPLIT_SETTINGS = ("name", "root", "test_fraction", "seed")  # what the split depends on


def split_settings(s):
    return {"dataset": {key: s.plain("dataset")[key] for key in SPLIT_SETTINGS}}


def split_key(s):
    return keyed("split_dataset", s, split_settings(s))


def split_path(s):
    return shared(split_key(s), SPLIT)


PROBES = "data/probes.npz"


def probes_settings(s):
    dataset = s.plain("dataset")
    return {"per_class": dataset["probes_per_class"], "seed": dataset["seed"]}


def probes_key(s):
    return keyed("select_probes", s, probes_settings(s), [split_key(s)])


def probes_path(s):
    return shared(probes_key(s), PROBES)


def data_results(s):
    return [split_path(s), probes_path(s)]


# --- Phase-1 runs.

PHASE1_RUN = f"phase1/{RUN}"


def phase1_settings(s, regime):
    """What a run of ``regime`` depends on: a benign run never reruns for the attack."""
    return {
        "model": s.plain("model"),
        "training": s.settings.phase1.training([regime]).model_dump(exclude_none=True),
        "checkpoint_epochs": s.checkpoint_epochs,
    }


def phase1_key(s, regime):
    return keyed("train_phase1", s, phase1_settings(s, regime), [split_key(s)])


def phase1_file(s, regime, seed, name):
    """A file of a phase-1 run of scenario ``s``: its history or ``epoch<e>.npz``."""
    key = phase1_key(s, regime)
    return shared(key, f"{PHASE1_RUN}{name}", regime=regime, seed=seed)


def checkpoint_file(s, regime, seed, epoch):
    """A phase-1 run's checkpoint at ``epoch`` (a label)."""
    return phase1_file(s, regime, seed, f"epoch{epoch}.npz")


def phase1_results(s):
    return [
        phase1_file(s, run.regime, run.seed, name)
        for run in s.runs
        for name in ["history.csv", *(f"epoch{epoch}.npz" for epoch in s.epochs)]
    ]


# --- Kernels: a run's snapshots, the infinite-width reference, kernels on attacked inputs.

KERNELS = f"kernels/{RUN}ntk.zarr"


def kernel_settings(s):
    return {
        "model": s.plain("model"),
        "ntk": s.plain("ntk"),
        "epochs": s.checkpoint_epochs,
    }


def kernel_key(s, regime):
    inputs = [phase1_key(s, regime), split_key(s), probes_key(s)]
    return keyed("extract_ntk", s, kernel_settings(s), inputs)


def kernel_path(s, regime, seed):
    return shared(kernel_key(s, regime), KERNELS, regime=regime, seed=seed)


def run_checkpoints(w, epochs=None):
    """The checkpoints of the job's run at ``epochs`` (labels; all by default)."""
    s = owner(w)
    return [checkpoint_file(s, w.regime, w.seed, e) for e in epochs or s.epochs]


# The infinite-width reference: the analytic NTK of the same architecture on the probes, once
# per architecture and data. Where it is out of reach (every model but the stax mlp and cnn: the
# ResNets, a model named by its import path), the workflow says so here, when the DAG is built,
# and every statistic and figure goes without it.
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
    return {"model": s.plain("model"), "ntk": s.plain("ntk")}


def infinite_key(s):
    inputs = [split_key(s), probes_key(s)]
    return keyed("infinite_ntk", s, infinite_settings(s), inputs)


def infinite_kernel(s):
    """The scenario's infinite-width kernel: none where it is off or out of reach."""
    if not infinite_within_reach(s):
        return []
    return [shared(infinite_key(s), INFINITE_KERNEL)]


# Kernels on attacked inputs: at the chosen checkpoints of a run, the probes attacked by an
# evaluation attack against the checkpoint's own network, their kernel, the cross kernel with
# the clean probes and how far the attack moves them. One job per run, as for the clean kernels.
ATTACKED_KERNELS = f"kernels/{RUN}attacked.zarr"

ATTACKED_STATISTICS = f"statistics/{RUN}attacked.zarr"


def attacked_epochs(s):
    return s.settings.attacked.selected_epochs(s.checkpoint_epochs)


def attacked_settings(s):
    """What the job reads of the evaluation: its seed, batch size and the one attack, sans
    radii."""
    attacks = s.settings.evaluation.attacks
    name = s.settings.attacked.attack
    evaluation = s.settings.evaluation.model_copy(
        update={"attacks": {name: attacks[name]}}
    )
    return {
        "model": s.plain("model"),
        "ntk": s.plain("ntk"),
        "evaluation": evaluation.model_dump(
            exclude={"attacks": {"__all__": {"epsilons"}}}
        ),
        "attacked": s.plain("attacked"),
        "epochs": attacked_epochs(s),
    }


def attacked_key(s, regime):
    inputs = [kernel_key(s, regime), phase1_key(s, regime), split_key(s)]
    return keyed("attacked_ntk", s, attacked_settings(s), inputs)


def attacked_statistics(s, regime, seed):
    return shared(
        attacked_key(s, regime), ATTACKED_STATISTICS, regime=regime, seed=seed
    )


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


# --- Phase-2 children.

CHILD = f"phase2/{RUN}spawn{{spawn}}/{{dynamics}}/{{phase2_regime}}/"


def children_settings(s):
    """What a children's job depends on: phase 2's training of every phase-2 regime."""
    phase2 = s.settings.phase2
    training = phase2.training(phase2.regimes)
    return {
        "model": s.plain("model"),
        "training": training.model_dump(exclude_none=True),
    }


def children_key(s, regime):
    kinds = s.settings.phase2.child_kinds  # the files a job writes
    inputs = [phase1_key(s, regime), split_key(s), kinds]
    return keyed("train_children", s, children_settings(s), inputs)


def each_child(pattern, kinds):
    """``pattern`` for every child of a spawn point, in the order a job's script reads the
    children from these paths (ntk_evolution.configuration.experiment.JobSubject); other wildcards stay.
    """
    dynamics, regimes = zip(*kinds)
    return expand(
        pattern, zip, dynamics=dynamics, phase2_regime=regimes, allow_missing=True
    )


def children_files(s, regime, seed, spawn, name):
    """A file (``params.npz``, ``history.csv``) of every child of a spawn point."""
    pattern = shared(
        children_key(s, regime),
        f"{CHILD}{name}",
        regime=regime,
        seed=seed,
        spawn=spawn,
        dynamics="{dynamics}",
        phase2_regime="{phase2_regime}",
    )
    return each_child(pattern, s.settings.phase2.child_kinds)


def phase2_results(s):
    return [
        path
        for run in s.runs
        for spawn in s.spawns
        for name in ("params.npz", "history.csv")
        for path in children_files(s, run.regime, run.seed, spawn, name)
    ]


# --- Evaluation of the final networks and the children, and its gathered tables.

EVALUATION = f"evaluation/{RUN}"


def evaluation_settings(s):
    return {"model": s.plain("model"), "evaluation": s.plain("evaluation")}


def evaluation_minutes_of(models):
    """A job's time limit, for ``models(scenario)`` models."""
    return lambda s, w: evaluation_minutes(s.settings.evaluation, models(s))


def parent_evaluation_key(s, regime):
    inputs = [phase1_key(s, regime), split_key(s)]
    return keyed("evaluate_phase1", s, evaluation_settings(s), inputs)


def parent_evaluation(s, regime, seed, name):
    """A file of a final phase-1 network's evaluation: its table or its adversarial images."""
    key = parent_evaluation_key(s, regime)
    return shared(key, f"{EVALUATION}{name}", regime=regime, seed=seed)


def children_evaluation_key(s, regime):
    inputs = [children_key(s, regime), parent_evaluation_key(s, regime), split_key(s)]
    return keyed("evaluate_children", s, evaluation_settings(s), inputs)


def children_evaluation(s, regime, seed, spawn):
    key = children_evaluation_key(s, regime)
    return shared(
        key, f"{EVALUATION}spawn{{spawn}}.csv", regime=regime, seed=seed, spawn=spawn
    )


ACCURACY = "evaluation/accuracy"


def gather_inputs(s):
    """Every evaluation table of the scenario: the final networks', then the children's."""
    parents = [parent_evaluation(s, r.regime, r.seed, "phase1.csv") for r in s.runs]
    children = [
        children_evaluation(s, r.regime, r.seed, spawn)
        for r in s.runs
        for spawn in s.spawns
    ]
    return {"phase1": parents, "children": children}


def gather_settings(s):
    return {"config": {key: s.plain(key) for key in ("phase2", "evaluation")}}


def gather_key(s):
    return keyed("gather_evaluation", s, gather_settings(s), [gather_inputs(s)])


def accuracy(s, suffix):
    """The scenario's gathered accuracies: ``.csv`` (the table) or ``.zarr`` (the dataset)."""
    return shared(gather_key(s), f"{ACCURACY}{suffix}")


def evaluation_results(s):
    inputs = gather_inputs(s)
    parents = [
        parent_evaluation(s, r.regime, r.seed, "phase1_adversarial.npz") for r in s.runs
    ]
    return [
        *inputs["phase1"],
        *parents,
        *inputs["children"],
        accuracy(s, ".csv"),
        accuracy(s, ".zarr"),
    ]


# --- Kernel statistics of a run and between runs.

# Each statistic of a run's kernels (a rule kernel_<statistic> each) and the settings it takes.
RUN_STATISTICS = {
    "evolution": lambda s: {},
    "spectrum": lambda s: {"top_k": s.settings.statistics.spectrum.top_k},
    "alignment": lambda s: {"centered": s.settings.statistics.alignment.centered},
    "eigenspace": lambda s: {"top_k": s.settings.statistics.eigenspace.top_k},
}


def statistic_key(statistic, s, regime):
    infinite = (
        [infinite_key(s)] if statistic == "evolution" and infinite_kernel(s) else []
    )
    inputs = [kernel_key(s, regime), *infinite]
    return keyed(f"kernel_{statistic}", s, RUN_STATISTICS[statistic](s), inputs)


def statistic_path(statistic, s, regime, seed):
    layout = f"statistics/{RUN}{statistic}.zarr"
    return shared(statistic_key(statistic, s, regime), layout, regime=regime, seed=seed)


def each_run(path_of, s):
    """``path_of(s, regime, seed)`` for every run of scenario ``s``."""
    return [path_of(s, run.regime, run.seed) for run in s.runs]


PAIR_DISTANCES = "statistics/pair_distances.zarr"


def pair_settings(s):
    return {"top_k": s.settings.statistics.eigenspace.top_k}


def pair_key(s):
    return keyed(
        "kernel_pair_distances", s, pair_settings(s), [each_run(kernel_path, s)]
    )


def pair_distances(s):
    """The scenario's distances between runs: none for a single run."""
    return [shared(pair_key(s), PAIR_DISTANCES)] if s.pairs else []


def statistics_results(s):
    runs = [
        statistic_path(statistic, s, run.regime, run.seed)
        for statistic in RUN_STATISTICS
        for run in s.runs
    ]
    return [*runs, *pair_distances(s)]


# --- Kernel machines, eigen-features and feature pictures.

MACHINES = f"machines/{RUN}machines.zarr"


FEATURES = f"machines/{RUN}features.zarr"


def machine_epochs(s):
    return s.settings.machines.selected_epochs(s.checkpoint_epochs)


def machine_evaluation(s):
    """What a machine job reads of the evaluation: the attacks at their own epsilon only."""
    return s.settings.evaluation.model_dump(
        exclude={"attacks": {"__all__": {"epsilons"}}}
    )


def machine_settings(s):
    return {
        "model": s.plain("model"),
        "machines": s.plain("machines"),
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


PICTURES = "machines/pictures.zarr"


def picture_runs(s):
    """The runs drawn: the first seed of every regime."""
    return [run for run in s.runs if run.seed == s.settings.phase1.seeds[0]]


def picture_epochs(s):
    return s.settings.pictures.selected_epochs(s.checkpoint_epochs)


def picture_inputs(s):
    """Run by run, the checkpoints at every drawn epoch, then each run's kernels."""
    epochs = [experiment.epoch_label(e) for e in picture_epochs(s)]
    runs = picture_runs(s)
    return {
        "checkpoints": [
            checkpoint_file(s, r.regime, r.seed, e) for r in runs for e in epochs
        ],
        "runs": [kernel_path(s, r.regime, r.seed) for r in runs],
        "split": split_path(s),
    }


def picture_settings(s):
    return {
        "model": s.plain("model"),
        "pictures": s.plain("pictures"),
        "epochs": picture_epochs(s),
    }


def picture_key(s):
    return keyed("feature_pictures", s, picture_settings(s), [picture_inputs(s)])


def pictures_path(s):
    return shared(picture_key(s), PICTURES)


# The infinite-width NTK's kernel machine, judged as the trained kernels' machines are: a
# baseline beside them in the machines' figure.
INFINITE_MACHINE = "machines/infinite.zarr"


def infinite_machine_settings(s):
    return {
        "model": s.plain("model"),
        "machines": s.plain("machines"),
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


# --- What a scenario's figures read.


def headline(s):
    """Each attack's own epsilon: figures and tables that show one number per attack use it."""
    return {
        name: attack.epsilon for name, attack in s.settings.evaluation.attacks.items()
    }


EVOLUTION = "Kernel evolution"  # the report's categories


SPECTRA = "Kernel spectra"


CHILDREN = "Children on frozen kernels"


MACHINES_CATEGORY = "Kernel machines and eigen-features"


def figure_inputs(s):
    """Every result the figures read, in run order where they are per run."""
    return {
        "evolution": [statistic_path("evolution", s, r.regime, r.seed) for r in s.runs],
        "spectra": [statistic_path("spectrum", s, r.regime, r.seed) for r in s.runs],
        "alignments": [
            statistic_path("alignment", s, r.regime, r.seed) for r in s.runs
        ],
        "eigenspaces": [
            statistic_path("eigenspace", s, r.regime, r.seed) for r in s.runs
        ],
        "attacked": each_run(attacked_statistics, s),
        "histories": [phase1_file(s, r.regime, r.seed, "history.csv") for r in s.runs],
        "pairs": pair_distances(s),
        "evaluation": accuracy(s, ".csv"),
        "machines": each_run(machine_path(MACHINES), s),
        "features": each_run(machine_path(FEATURES), s),
        "pictures": pictures_path(s),
        "infinite_machine": single(infinite_machine(s)),
    }


# --- What a scenario's findings read.


def findings_inputs(s):
    return {
        "pairs": pair_distances(s),
        "runs": [statistic_path("evolution", s, r.regime, r.seed) for r in s.runs],
        "evaluation": accuracy(s, ".csv"),
    }


def findings_param(read):
    """A findings param: ``read(scenario)``."""
    return lambda w: read(SCENARIOS[w.scenario])


# --- Everything a scenario keeps.


def scenario_results(s):
    """Every result the workflow keeps for scenario ``s``, below results/shared."""
    return [
        *data_results(s),
        *phase1_results(s),
        *kernel_results(s),
        *phase2_results(s),
        *evaluation_results(s),
        *statistics_results(s),
        *machine_results(s),
    ]


COMPARISON = "results/comparison/"


# Every job of every scenario keyed now, so that any result can be asked for by its path.
for s in SCENARIOS.values():
    scenario_results(s)
