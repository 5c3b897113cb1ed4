"""`signalfire intel ...` as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import stix2

from signalfire.simulate import SimulationConfig, run_simulation


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signalfire", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_import_list_allow_export(tmp_path: Path) -> None:
    sim = run_simulation(
        SimulationConfig(seed=5, hours=1, operators=1, hosts_per_operator=20), tmp_path / "sim"
    )
    db = str(tmp_path / "s.duckdb")
    imported = run("--db", db, "intel", "import", "--json", str(sim.out_dir / "indicators"))
    assert imported.returncode == 0, imported.stderr
    summary = json.loads(imported.stdout)
    assert summary["files"] == 2 and summary["failed"] == 0
    feed = (sim.out_dir / "indicators" / "known_bad.intel").read_text().splitlines()[1:]
    assert summary["new"] == len(feed) and summary["unchanged"] == len(feed)

    again = json.loads(run("--db", db, "intel", "import", "--json", str(sim.indicators)).stdout)
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, len(feed))

    listed = json_lines(run("--db", db, "intel", "list", "--json").stdout)
    assert {item["value"] for item in listed} == {line.split("\t")[0] for line in feed}
    assert all(item["active"] and item["source"] == "signalfire-sim-feed" for item in listed)
    ips = json_lines(run("--db", db, "intel", "list", "--json", "--type", "ipv4").stdout)
    assert ips and {item["type"] for item in ips} == {"ipv4"}
    human = run("--db", db, "intel", "list", "--limit", "3")
    assert human.returncode == 0 and "signalfire-sim-feed" in human.stdout

    value = str(ips[0]["value"])
    allowed = run("--db", db, "intel", "allow", value, "--reason", "our scanner", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["type"] == "ipv4"
    entries = json_lines(run("--db", db, "intel", "allowlist", "--json").stdout)
    assert [e["value"] for e in entries] == [value]
    assert run("--db", db, "intel", "unallow", value).returncode == 0
    gone = run("--db", db, "intel", "unallow", value)
    assert gone.returncode == 3 and "not on the allowlist" in gone.stderr

    out = tmp_path / "export.json"
    exported = run("--db", db, "intel", "export", "--stix", str(out), "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["by_type"]["indicator"] == len(feed)
    stix2.parse(json.loads(out.read_text()), allow_custom=True)
    db2 = str(tmp_path / "t.duckdb")
    back = json.loads(run("--db", db2, "intel", "import", "--json", str(out)).stdout)
    assert back["new"] == len(feed)
    assert {
        i["indicator_id"] for i in json_lines(run("--db", db2, "intel", "list", "--json").stdout)
    } == {i["indicator_id"] for i in listed}


def test_errors_and_exit_codes(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    missing = run("--db", db, "intel", "import", str(tmp_path / "nope.json"))
    assert missing.returncode == 4 and "no such file" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    good = tmp_path / "good.txt"
    good.write_text("192.0.2.1\nevil.example\n")
    partly = run("--db", db, "intel", "import", "--json", str(bad), str(good))
    assert partly.returncode == 4
    summary = json.loads(partly.stdout)
    assert (summary["failed"], summary["new"]) == (1, 2)
    assert "Traceback" not in partly.stderr
    human = run("--db", db, "intel", "import", str(bad))
    assert "failed, nothing stored from it" in human.stdout
    assert run("--db", db, "intel", "list", "--type", "nonsense").returncode == 3
    assert run("--db", db, "intel", "import", "--confidence", "200", str(good)).returncode == 2
    allow = run("--db", db, "intel", "allow", "300.1.1.1", "--type", "ipv4", "--reason", "x")
    assert allow.returncode == 6 and "cannot allowlist" in allow.stderr
    expires = run("--db", db, "intel", "allow", "192.0.2.9", "--reason", "x", "--expires", "soon")
    assert expires.returncode == 3 and "--expires" in expires.stderr


@pytest.mark.shared_data
def test_importing_the_shared_intel_directory(tmp_path: Path, shared_data: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    data = shared_data / "intel"
    result = run(
        "--db", db, "intel", "import", "--json", str(data / "stix-examples"), str(data / "misp")
    )
    # PyMISP's test directory holds fragments that are not events: reported, not fatal.
    assert result.returncode == 4, result.stderr
    summary = json.loads(result.stdout)
    failed = {Path(f["path"]).name for f in summary["per_file"] if f["failed"]}
    assert failed == {
        "galaxy.json",
        "sighting.json",
        "simple.json",
        "definition.json",
        "event_obj_attr_tag.json",
        "event_obj_def_param.json",
        "event_obj_tag.json",
    }
    assert summary["new"] > 500
    apt1 = json_lines(
        run("--db", db, "intel", "list", "--all", "--json", "--search", "APT1").stdout
    )
    assert apt1 and all("APT1" in item["intrusion_sets"] for item in apt1)
