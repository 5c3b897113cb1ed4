"""`signalfire simulate` as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("signalfire")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_json_output(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    proc = _run(
        "simulate",
        "--out",
        str(out),
        "--hours",
        "1",
        "--operators",
        "2",
        "--hosts",
        "20",
        "--seed",
        "3",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert proc.stdout.count("\n") == 1
    assert set(document) == {
        "out",
        "files",
        "rows",
        "ground_truth",
        "indicators",
        "network",
        "attacks",
    }
    assert document["files"] == 7 and document["attacks"] == 11
    assert set(document["rows"]) == {"conn", "dns", "http", "ssl", "ssh", "modbus", "dnp3"}
    assert Path(document["ground_truth"]) == out / "ground_truth.json"
    assert Path(document["indicators"]).is_file() and Path(document["network"]).is_file()
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["rows"] == document["rows"]
    # A second run into the same (simulation) directory is allowed and replaces it.
    again = _run(
        "simulate",
        "--out",
        str(out),
        "--hours",
        "1",
        "--operators",
        "2",
        "--hosts",
        "20",
        "--seed",
        "3",
        "--json",
    )
    assert again.returncode == 0 and json.loads(again.stdout) == document


def test_human_summary(tmp_path: Path) -> None:
    proc = _run(
        "simulate",
        "--out",
        str(tmp_path / "s"),
        "--hours",
        "1",
        "--operators",
        "1",
        "--hosts",
        "20",
        "--rotate",
        "--gzip",
    )
    assert proc.returncode == 0, proc.stderr
    assert "conn" in proc.stdout and "ground truth" in proc.stdout
    assert (tmp_path / "s" / "2026-03-02" / "conn.00:00:00-01:00:00.log.gz").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ["--hours", "0"],
        ["--hours", "-3"],
        ["--operators", "0"],
        ["--hosts", "5"],
        ["--conn-rows", "10"],
        ["--seed", "-1"],
    ],
)
def test_bad_option_exits_3_with_one_line(tmp_path: Path, args: list[str]) -> None:
    proc = _run("simulate", "--out", str(tmp_path / "x"), *args)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("signalfire: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_refuses_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    proc = _run(
        "simulate", "--out", str(tmp_path), "--hours", "1", "--hosts", "20", "--operators", "1"
    )
    assert proc.returncode == 3
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr
    forced = _run(
        "simulate",
        "--out",
        str(tmp_path),
        "--hours",
        "1",
        "--hosts",
        "20",
        "--operators",
        "1",
        "--force",
        "--json",
    )
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "conn.log").is_file()
