"""The Python API a notebook uses: load_scenario, Scenario.build / with_overrides / fingerprint,
run_branch, the typed tables, and the provenance written to run.json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import approval, event, firm, key_events, make_scenario

from timeline import Scenario, TimelineError, load_scenario, run_branch
from timeline.ensemble.runner import run_ensemble
from timeline.run import simulate_branches, write_simulation

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
ELEMENTS = ["Dy", "Tb", "Nd", "Pr", "Sm", "Gd", "Y", "Lu"]  # a set whose order varies by hash


def is_date_column(name: str) -> bool:
    return name in ("date", "month") or name.endswith("_date") or name.startswith("first_stop")


def one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text, text
    return text


def python(code: str, stdin: str = "", hash_seed: str | None = None) -> str:
    """Run `code` in a fresh interpreter of this environment, from the repository root."""
    env = dict(os.environ)
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def tiny_data() -> dict:
    """A valid scenario as plain data: a car plant buying from a motor maker on Chinese Dy."""
    plants = [
        firm("motor", elements=ELEMENTS, china_share=0.8, inventory_days=15),
        firm("car", suppliers=[{"firm": "motor", "buffer_days": 5}]),
    ]
    control = event("dy-control", "2025-05-01", effects={"licensed_elements": ["Dy"]})
    scenario = make_scenario(plants, events=[*key_events(), control], approval=approval(0.5))
    return scenario.model_dump(mode="json")


# --- loading and running ------------------------------------------------------------------------


def test_load_scenario_takes_a_folder_as_text(monkeypatch, default_scenario):
    """`load_scenario("events")` (a str, relative to the working folder) loads the built-in
    scenario: the same content (fingerprint) as the default."""
    monkeypatch.chdir(ROOT)
    scenario = load_scenario("events")
    assert isinstance(scenario, Scenario)
    assert scenario.fingerprint == default_scenario.fingerprint
    assert scenario.branch_ids == default_scenario.branch_ids


def test_run_branch_until_a_date_given_as_text(default_scenario):
    """`run_branch(s, "decouple", until="2025-12-01")` runs to that date, inclusive."""
    run = run_branch(default_scenario, "decouple", until="2025-12-01")
    assert run.timeline["date"].iloc[-1] == pd.Timestamp("2025-12-01")
    assert run.timeline["date"].iloc[0] == pd.Timestamp(default_scenario.start)
    assert (run.events["date"] <= pd.Timestamp("2025-12-01")).all()


def test_run_branch_until_not_a_date_is_one_line(default_scenario):
    """An `until` that is not an ISO date is a one-line TimelineError."""
    with pytest.raises(TimelineError) as err:
        run_branch(default_scenario, "decouple", until="2025-13-01")
    assert "2025-13-01" in one_line(err.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: run_branch(s, "nope"),
        lambda s: simulate_branches(s, "nope", runs=2, jobs=1),
        lambda s: run_ensemble(s, ["nope"], 2, jobs=1),
    ],
    ids=["run_branch", "simulate_branches", "run_ensemble"],
)
def test_unknown_branch_is_one_line(default_scenario, call):
    """An unknown branch raises a one-line TimelineError naming it and the known branches."""
    with pytest.raises(TimelineError) as err:
        call(default_scenario)
    text = one_line(err.value)
    assert "nope" in text
    for branch in default_scenario.branch_ids:
        assert branch in text


# --- Scenario built in code -----------------------------------------------------------------


def test_scenario_build_accepts_valid_data():
    """A valid dict builds, runs, and keeps its firms in order."""
    scenario = Scenario.build(tiny_data())
    assert [f.id for f in scenario.firms] == ["motor", "car"]
    assert len(run_branch(scenario, "base").firms) == 2


def _unknown_supplier(data):
    data["firms"][1]["suppliers"] = [{"firm": "ghost", "buffer_days": 5}]
    return "ghost"


def _cycle(data):
    data["firms"][0]["suppliers"] = [{"firm": "car", "buffer_days": 5}]
    return "cycle"


def _duplicate_ids(data):
    data["firms"][1]["id"] = "motor"
    data["firms"][1]["suppliers"] = []
    return "duplicate"


@pytest.mark.parametrize("defect", [_unknown_supplier, _cycle, _duplicate_ids])
def test_scenario_build_refuses_a_defect_in_one_line(defect):
    """`Scenario.build` (and plain `model_validate`) of data with an unknown supplier, a
    supplier cycle or a duplicate firm id raises a one-line TimelineError at construction."""
    data = tiny_data()
    word = defect(data)
    with pytest.raises(TimelineError) as err:
        Scenario.build(data)
    assert word in one_line(err.value)
    assert "firms" in str(err.value)
    with pytest.raises(TimelineError):
        Scenario.model_validate(data)


def test_scenario_build_refuses_a_bad_value_as_timeline_error():
    """A field-level defect (a share above 1) is a TimelineError too, naming the field."""
    data = tiny_data()
    data["firms"][0]["china_share"] = 1.5
    with pytest.raises(TimelineError) as err:
        Scenario.build(data)
    assert "china_share" in one_line(err.value)


# --- with_overrides and fingerprint ----------------------------------------------------------


def test_with_overrides_returns_a_revalidated_copy():
    """with_overrides gives a changed copy with another fingerprint; the original is unchanged;
    setting the value it already has gives the same fingerprint."""
    scenario = Scenario.build(tiny_data())
    assert scenario.parameters.restock_rate.value == 0.5
    changed = scenario.with_overrides({"parameters.restock_rate.value": 0.3})
    assert isinstance(changed, Scenario) and changed is not scenario
    assert changed.parameters.restock_rate.value == 0.3
    assert scenario.parameters.restock_rate.value == 0.5
    assert changed.fingerprint != scenario.fingerprint
    same = scenario.with_overrides({"parameters.restock_rate.value": 0.5})
    assert same.fingerprint == scenario.fingerprint


def test_with_overrides_on_the_default_scenario(default_scenario):
    """On the built-in scenario, a new restock rate gives a new fingerprint and a run of the
    copy works."""
    value = default_scenario.parameters.restock_rate.value
    changed = default_scenario.with_overrides({"parameters.restock_rate.value": value + 0.1})
    assert changed.fingerprint != default_scenario.fingerprint
    assert default_scenario.parameters.restock_rate.value == value
    assert len(run_branch(changed, "decouple", until="2025-06-01").timeline) == 62


@pytest.mark.parametrize(
    "changes",
    [
        {"parameters.restock_rate.value": 1e6},
        {"firms.1.id": "motor"},
        {"firms.0.suppliers": [{"firm": "car", "buffer_days": 5}]},
    ],
    ids=["out-of-range", "duplicate-id", "cycle"],
)
def test_with_overrides_validates_again(changes):
    """An override that breaks the scenario raises a one-line TimelineError."""
    scenario = Scenario.build(tiny_data())
    with pytest.raises(TimelineError) as err:
        scenario.with_overrides(changes)
    one_line(err.value)


def test_fingerprint_is_content_only(tmp_path, default_scenario):
    """A copy of the scenario folder elsewhere has the same fingerprint and the same relative
    file hashes; data round-tripped through JSON has the same fingerprint."""
    copy = tmp_path / "elsewhere"
    shutil.copytree(EVENTS, copy)
    moved = load_scenario(copy)
    assert moved.fingerprint == default_scenario.fingerprint
    assert moved.file_hashes == default_scenario.file_hashes
    scenario = Scenario.build(tiny_data())
    again = Scenario.build(json.loads(json.dumps(scenario.model_dump(mode="json"))))
    assert again.fingerprint == scenario.fingerprint


def test_fingerprint_is_stable_across_processes(default_scenario):
    """A fresh interpreter with another hash seed (so sets iterate in another order) computes
    the same fingerprints as this one, for the built-in scenario and for one built in code from
    JSON data."""
    data = tiny_data()
    here = [default_scenario.fingerprint, Scenario.build(data).fingerprint]
    code = (
        "import json, sys\n"
        "from timeline import Scenario, load_scenario\n"
        "data = json.load(sys.stdin)\n"
        "print(load_scenario().fingerprint)\n"
        "print(Scenario.build(data).fingerprint)\n"
    )
    assert python(code, json.dumps(data), hash_seed="4242").split() == here


# --- run.json ---------------------------------------------------------------------------------


def test_run_json_names_scenario_files_relative_to_the_folder(tmp_path, default_scenario):
    """run.json lists the scenario's files by their path relative to the scenario folder, with
    each file's sha256; no absolute path appears anywhere in it."""
    sim = simulate_branches(default_scenario, "decouple", runs=2, jobs=1)
    write_simulation(sim, tmp_path / "out", "timeline simulate", "2026-01-01T00:00:00+00:00")
    text = (tmp_path / "out" / "decouple" / "run.json").read_text()
    meta = json.loads(text)
    files = meta["scenario_files"]
    expected = {"scenario.yaml", "catalog.yaml", "calendar-cn.yaml", "firms.csv"} | {
        f"branches/{b}.yaml" for b in default_scenario.branch_ids
    }
    assert set(files) == expected
    for name, digest in files.items():
        assert digest == hashlib.sha256((EVENTS / name).read_bytes()).hexdigest(), name
    assert str(ROOT) not in text and str(tmp_path) not in text
    assert meta["scenario_fingerprint"] == default_scenario.fingerprint
    assert (meta["runs"], meta["replay"], meta["seed"]) == (2, 0, 0)


def test_run_json_names_an_outside_firm_table_by_its_name(tmp_path):
    """A firm table given from outside the scenario folder is named by its file name alone."""
    firms = tmp_path / "my-firms.csv"
    shutil.copy(EVENTS / "firms.csv", firms)
    scenario = load_scenario(EVENTS, firms=firms)
    assert "my-firms.csv" in scenario.file_hashes
    assert "firms.csv" not in scenario.file_hashes
    assert all(not Path(name).is_absolute() for name in scenario.file_hashes)


# --- typed tables -------------------------------------------------------------------------------


def _check_dates(frame: pd.DataFrame, name: str) -> int:
    """Assert every date column is datetime64; return how many were seen."""
    seen = 0
    for column in frame.columns:
        if is_date_column(column):
            assert pd.api.types.is_datetime64_dtype(frame[column]), (name, column)
            seen += 1
    return seen


def test_date_columns_are_datetime64_with_nat(default_scenario):
    """Every date column of the run's tables and of the ensemble's tables is datetime64; a firm
    that never stops has NaT as its first stop (blank in firms.csv)."""
    run = run_branch(default_scenario, "decouple")
    assert sum(_check_dates(frame, name) for name, frame in run.tables().items()) == 9
    never = run.firms["days_stopped"] == 0
    assert never.any()
    assert run.firms.loc[never, "first_stop_date"].isna().all()
    assert run.firms.loc[~never, "first_stop_date"].notna().all()
    ensemble = run_ensemble(default_scenario, ["decouple", "history"], 2, jobs=1)
    frames = {
        "bands": ensemble.bands("decouple"),
        "stopped_share": ensemble.stopped_share("decouple"),
        "firm_risk": ensemble.firm_risk("decouple"),
        "runs": ensemble.runs_frame("decouple"),
        "flows_bands": ensemble.flows("decouple"),
        "compare": ensemble.compare(),
    }
    assert sum(_check_dates(frame, name) for name, frame in frames.items()) == 16
    assert frames["firm_risk"]["first_stop_q50"].isna().any()


def test_date_columns_are_datetime64_in_empty_tables():
    """A run in which nothing happens (no stoppage, no Chinese purchases) still has typed
    tables: every date column is datetime64, in the run's tables and the ensemble's."""
    scenario = make_scenario([firm("calm")])
    run = run_branch(scenario, "base")
    assert len(run.stoppages) == 0 and len(run.flows) == 0
    for name, frame in run.tables().items():
        _check_dates(frame, name)
    ensemble = run_ensemble(scenario, ["base"], 2, jobs=1)
    _check_dates(ensemble.stopped_share("base"), "stopped_share")
    _check_dates(ensemble.flows("base"), "flows_bands")


# --- the engine stays light -------------------------------------------------------------------


def test_engine_does_not_import_pandas():
    """`import timeline.engine.world` in a fresh interpreter loads no pandas (the engine knows
    nothing of tables; ensemble workers need not pay for pandas)."""
    out = python(
        "import sys\n"
        "import timeline.engine.world\n"
        "print(sorted(m for m in sys.modules if m == 'pandas' or m.startswith('pandas.'))[:3])\n"
    )
    assert out.strip() == "[]", f"pandas imported with the engine: {out.strip()}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["simulate", "--help"],
        ["branches"],
        ["validate"],
        ["events", "--branch", "decouple"],
    ],
)
def test_light_commands_do_not_import_pandas(argv):
    """Help, `branches`, `validate` and `events` answer without loading pandas (about 2 s of
    imports): only the commands that build tables pay for it. The command must also have
    worked (exit 0 and its usual output)."""
    out = python(
        "import sys\n"
        f"sys.argv = ['timeline', *{argv!r}]\n"
        "from timeline.cli import app\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "names = sorted(m for m in sys.modules if m.split('.')[0] == 'pandas')\n"
        "print('PANDAS', names[:3])\n"
    )
    assert "PANDAS []" in out, f"{argv}: pandas imported: {out.splitlines()[-1]}"
    assert len(out.splitlines()) > 1, f"{argv}: the command printed nothing"
