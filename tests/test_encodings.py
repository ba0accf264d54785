"""One encoding in every result store: attacks as separate ``attack`` and ``epsilon`` dims,
``source`` in one order, strings as zarr 3's ``string`` data type, one device format.

The stores are written by the real stages on tiny synthetic inputs: the evaluation's by
``gather_evaluation`` from tidy tables, a run's kernel machines by ``judge_machines`` and the
infinite-width machine by ``judge_infinite_machine`` (a 6-probe MLP, a few test images, PGD of
one step), every write under ``warnings.simplefilter("error")``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import warnings

import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from numpy.dtypes import StringDType
from zarr.errors import UnstableSpecificationWarning, ZarrUserWarning

from ntk_evolution._infra import storage
from ntk_evolution._infra.checkpoints import save_checkpoint
from ntk_evolution._infra.provenance import device_description
from ntk_evolution.configuration.experiment import MODEL_COLUMNS, SOURCES, Run, attack_order
from ntk_evolution.configuration.settings import (
    EvaluationSettings,
    MachinesSettings,
    NtkSettings,
)
from ntk_evolution.datasets import data
from ntk_evolution.models.networks import build_network
from ntk_evolution.stages.evaluation import crafted_attacks, save_adversarial
from ntk_evolution.stages.gather import gather_evaluation
from ntk_evolution.stages.infinite import extract_infinite_kernel, judge_infinite_machine
from ntk_evolution.stages.kernels import extract_kernels
from ntk_evolution.stages.machines import judge_machines

from pgd_settings import model_settings, pgd_entry

NUM_CLASSES = 3
MODEL = model_settings()
# Listed out of alphabetical order, with an extra radius that the machines leave out.
EVALUATION = EvaluationSettings.model_validate(
    {
        "batch_size": 8,
        "seed": 0,
        "transfer": True,
        "attacks": {
            "pgd_linf": pgd_entry("linf", 0.1, 0.1, 1, random_start=False, epsilons=[0.05]),
            "pgd_l2": pgd_entry("l2", 0.5, 0.5, 1, random_start=False),
        },
    }
)
MACHINES = MachinesSettings.model_validate(
    {
        "ridge": 1e-3,
        "centered_targets": True,
        "epochs": None,
        "test_images": 6,
        "attacks": None,
        "features": {
            "top": 1,
            "bottom": 0,
            "test_images": 6,
            "attack": {
                "norm": "linf",
                "epsilon": 0.1,
                "step_size": 0.1,
                "steps": 1,
                "random_start": False,
            },
        },
    }
)
# The store order of the attacks above: clean first, then alphabetical.
ATTACKS = ["clean", "pgd_l2", "pgd_linf"]
RUN = Run("benign", 0)


def write_quietly(write, *args, **kwargs):
    """Call ``write``, failing on any warning it raises but zarr's note that consolidated
    metadata is not yet in the v3 specification (the stores use it by design, see
    :mod:`ntk_evolution._infra.storage`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "Consolidated metadata", ZarrUserWarning)
        write(*args, **kwargs)


def string_arrays(path) -> dict[str, dict]:
    """The zarr metadata of every array of the store at ``path`` that holds text."""
    group = zarr.open_group(path, mode="r")
    found = {}
    for name in group.array_keys():
        meta = json.loads((path / name / "zarr.json").read_text())
        if meta["data_type"] not in ("float32", "float64", "int64", "int32", "uint8", "bool"):
            found[name] = meta
    return found


def assert_plain_strings(path, expected: set[str]) -> None:
    """Every text array of the store at ``path`` is zarr's ``string`` data type (vlen-utf8),
    and :func:`storage.open_store` gives it back as an object array of Python ``str``."""
    metas = string_arrays(path)
    assert set(metas) == expected
    for name, meta in metas.items():
        assert meta["data_type"] == "string", name
        assert meta["codecs"][0]["name"] == "vlen-utf8", name
    ds = storage.open_store(path, load=True)
    for name in expected:
        assert ds[name].dtype == np.dtype(object), name
        assert all(type(value) is str for value in ds[name].values.ravel()), name


# --- strings ---------------------------------------------------------------------------------


TEXT = ["self", "parent"]


@pytest.mark.parametrize("dtype", [np.dtype("<U6"), StringDType(), np.dtype(object)])
def test_every_string_dtype_is_written_as_zarr_strings_without_a_warning(tmp_path, dtype):
    ds = xr.Dataset(
        {
            "value": ("source", [1.0, 2.0]),
            "note": ("source", np.array(["a", "bc"], dtype=dtype)),
        },
        coords={
            "source": np.array(TEXT, dtype=dtype),
            "label": ("source", np.array(["x", "yz"], dtype=dtype), {"long_name": "a label"}),
        },
    )
    path = tmp_path / "text.zarr"
    write_quietly(storage.write_dataset, ds, path)
    assert_plain_strings(path, {"source", "label", "note"})
    back = storage.open_store(path)  # lazy: the non-index strings are converted when read
    assert back.label.attrs == {"long_name": "a label"}
    assert back.note.values.tolist() == ["a", "bc"] and back.source.values.tolist() == TEXT
    assert float(back.value.sel(source="parent")) == 2.0


def test_zarr_warns_when_writing_fixed_width_strings_but_not_when_reading_them(tmp_path):
    """Why the writer converts: zarr 3.1 writes numpy ``<U`` as ``fixed_length_utf32``, which
    has no stable specification, and warns; reading such a store (an older one) warns not, and
    comes back as Python strings too."""
    ds = xr.Dataset({"value": ("source", [1.0, 2.0])}, coords={"source": TEXT})
    assert ds.source.dtype.kind == "U"
    path = tmp_path / "fixed.zarr"
    with pytest.warns(UnstableSpecificationWarning, match="FixedLengthUTF32"):
        ds.to_zarr(path, mode="w", consolidated=False, zarr_format=3)
    storage._complete(path, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "Consolidated metadata", ZarrUserWarning)
        assert zarr.open_group(path, mode="r", use_consolidated=True)["source"].dtype.kind == "U"
        back = storage.open_store(path, load=True)
    assert back.source.dtype == np.dtype(object) and back.source.values.tolist() == TEXT


# --- the stores' attack, epsilon and source dims ---------------------------------------------


def evaluation_rows(regime: str) -> list[dict]:
    """Tidy rows of a phase-1 network and one child, as the evaluation jobs write them: the
    child measured against both sources, at every radius of every attack."""
    parent = {"phase1_regime": regime, "seed": 0, "spawn_epoch": np.nan}
    parent |= {"dynamics": "standard", "phase2_regime": "none"}
    child = {**parent, "spawn_epoch": 1.0, "dynamics": "linearized", "phase2_regime": "benign"}
    cells = [("clean", 0.0), ("pgd_linf", 0.05), ("pgd_linf", 0.1), ("pgd_l2", 0.5)]
    rows = [
        {**parent, "attack": a, "epsilon": e, "source": "self", **judged(0.9 - e)} for a, e in cells
    ]
    for source in ("parent", "self"):  # parent first: the store's order is not the table's
        rows += [
            {**child, "attack": a, "epsilon": e, "source": source, **judged(0.8 - e)}
            for a, e in cells
            if not (a == "clean" and source == "parent")
        ]
    return rows


def judged(accuracy: float, n: int = 200) -> dict:
    """The accuracy columns of a row: ``accuracy`` of ``n`` test images."""
    return {"accuracy": accuracy, "correct": round(accuracy * n), "n": n}


@pytest.fixture(scope="module")
def evaluation_store(tmp_path_factory):
    """``evaluation/accuracy.zarr`` written by ``gather_evaluation`` from two tables."""
    path = tmp_path_factory.mktemp("evaluation")
    tables = []
    for regime in ("benign", "adversarial"):
        tables.append(path / f"{regime}.csv")
        pd.DataFrame(evaluation_rows(regime)).to_csv(tables[-1], index=False)
    store = path / "accuracy.zarr"
    write_quietly(gather_evaluation, tables, path / "accuracy.csv", store, config={})
    return store


@pytest.fixture(scope="module")
def machine_stores(tmp_path_factory):
    """A run's ``machines.zarr`` and ``features.zarr`` written by ``judge_machines`` and the
    infinite-width machine's store by ``judge_infinite_machine``, on a 3-class task of 8 x 8
    images: a 6-probe MLP at two checkpoints."""
    path = tmp_path_factory.mktemp("machines")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (18, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(18) % NUM_CLASSES
    split = data.Split(pixels[:12], labels[:12], pixels[12:], labels[12:], ("a", "b", "c"), 255)
    data.save_split(path / "split.npz", split)
    data.save_probes(path / "probes.npz", np.arange(6), labels[:6])
    net = build_network(MODEL, NUM_CLASSES)
    checkpoints = []
    for epoch in (0, 1):
        checkpoints.append(path / f"epoch{epoch}.npz")
        params, state = net.init(jax.random.PRNGKey(epoch), split.image_shape)
        save_checkpoint(checkpoints[-1], params, {"epoch": epoch}, state=state)
    ntk = NtkSettings(implementation="jacobian_contraction", tile_size=6)
    kernels = path / "ntk.zarr"
    common = {"epochs": [0.0, 1.0], "model": MODEL}
    extract_kernels(
        checkpoints, path / "split.npz", path / "probes.npz", kernels, run=RUN, ntk=ntk, **common
    )
    test_images, _ = split.test_set()
    attacks = list(crafted_attacks(EVALUATION, headline=True))
    save_adversarial(path / "adversarial.npz", dict.fromkeys(attacks, test_images), {})
    stores = {name: path / f"{name}.zarr" for name in ("machines", "features", "infinite")}
    settings = {"machines": MACHINES, "evaluation": EVALUATION}
    write_quietly(
        judge_machines,
        checkpoints,
        kernels,
        path / "split.npz",
        path / "adversarial.npz",
        stores["machines"],
        stores["features"],
        run=RUN,
        **common,
        **settings,
    )
    extract_infinite_kernel(
        path / "split.npz", path / "probes.npz", path / "infinite_ntk.zarr", model=MODEL, ntk=ntk
    )
    write_quietly(
        judge_infinite_machine,
        path / "infinite_ntk.zarr",
        path / "split.npz",
        stores["infinite"],
        model=MODEL,
        **settings,
    )
    return stores


def test_the_evaluation_store_has_attack_epsilon_and_source_dims(evaluation_store):
    ds = storage.open_store(evaluation_store, load=True)
    assert ds.accuracy.dims == (*MODEL_COLUMNS, "attack", "epsilon", "source")
    assert ds.parent_accuracy.dims == ("phase1_regime", "seed", "attack", "epsilon")
    assert ds.attack.values.tolist() == ATTACKS
    assert ds.epsilon.dtype == np.float64
    assert ds.epsilon.values.tolist() == [0.0, 0.05, 0.1, 0.5]
    assert ds.source.values.tolist() == list(SOURCES) == ["self", "parent"]
    child = ds.accuracy.sel(phase1_regime="benign", seed=0, spawn_epoch=1.0)
    child = child.sel(dynamics="linearized", phase2_regime="benign")
    assert float(child.sel(attack="pgd_linf", epsilon=0.1, source="parent")) == 0.8 - 0.1
    assert np.isnan(float(child.sel(attack="clean", epsilon=0.0, source="parent")))
    assert np.isnan(float(child.sel(attack="pgd_l2", epsilon=0.1, source="self")))
    assert_plain_strings(
        evaluation_store, {"attack", "source", "dynamics", "phase1_regime"} | {"phase2_regime"}
    )


def test_the_machine_store_has_attack_epsilon_and_source_dims(machine_stores):
    ds = storage.open_store(machine_stores["machines"], load=True)
    assert ds.accuracy.dims == ("epoch", "attack", "epsilon", "source")
    assert ds.epoch.values.tolist() == [0.0, 1.0]
    assert ds.attack.values.tolist() == ATTACKS
    assert ds.epsilon.dtype == np.float64 and ds.epsilon.values.tolist() == [0.0, 0.1, 0.5]
    assert ds.source.values.tolist() == list(SOURCES)
    # Each attack is judged at its own epsilon only: the others' radii are NaN.
    measured = ds.accuracy.notnull().all(["epoch", "source"]).to_series()
    assert measured[measured].index.tolist() == [("clean", 0.0), ("pgd_l2", 0.5), ("pgd_linf", 0.1)]
    clean = ds.accuracy.sel(attack="clean", epsilon=0.0)
    np.testing.assert_array_equal(clean.sel(source="self"), clean.sel(source="parent"))
    assert_plain_strings(machine_stores["machines"], {"attack", "source"})
    assert_plain_strings(machine_stores["features"], {"measure"})


def test_the_infinite_machine_store_has_attack_and_epsilon_dims(machine_stores):
    ds = storage.open_store(machine_stores["infinite"], load=True)
    assert ds.accuracy.dims == ("attack", "epsilon")
    assert ds.attack.values.tolist() == ATTACKS
    assert ds.epsilon.values.tolist() == [0.0, 0.1, 0.5]
    assert int(ds.accuracy.notnull().sum()) == 3
    assert 0 <= float(ds.accuracy.sel(attack="pgd_linf", epsilon=0.1)) <= 1
    assert_plain_strings(machine_stores["infinite"], {"attack"})


def test_the_stores_line_up_on_attack_epsilon_and_source(evaluation_store, machine_stores):
    """A machine's and a child's accuracy at the same cells select and align alike."""
    evaluation = storage.open_store(evaluation_store, load=True).accuracy
    machines = storage.open_store(machine_stores["machines"], load=True).accuracy
    cells = {"attack": "pgd_linf", "epsilon": 0.1}
    child, machine = xr.align(evaluation.sel(cells), machines.sel(cells), join="exact")
    assert child.source.values.tolist() == machine.source.values.tolist() == list(SOURCES)
    for dim in ("attack", "epsilon", "source"):
        assert evaluation[dim].dtype == machines[dim].dtype, dim


def test_attack_order_puts_clean_first():
    assert attack_order(["pgd_linf", "clean", "apgd", "pgd_l2", "apgd"]) == [
        "clean",
        "apgd",
        "pgd_l2",
        "pgd_linf",
    ]


# --- the device ------------------------------------------------------------------------------

WITHOUT_JAX = (
    "import sys; from ntk_evolution._infra.provenance import device_description; "
    "assert 'jax' not in sys.modules; print(device_description())"
)


def test_the_device_reads_alike_with_and_without_jax(evaluation_store):
    """``cpu:<machine>`` on a CPU whether or not the job imported JAX; another platform is
    ``<platform>:<device kind>``."""
    without = subprocess.run(
        [sys.executable, "-c", WITHOUT_JAX], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert without == f"cpu:{platform.machine()}"
    assert "jax" in sys.modules
    device = jax.devices()[0]
    if device.platform == "cpu":
        assert device_description() == without
    else:
        assert device_description() == f"{device.platform}:{device.device_kind}"
    assert storage.open_store(evaluation_store).attrs["device"] == device_description()
