"""The milestone scripts, run for real on the reference package (--quick).

Each script runs as a learner would run it: a subprocess with the workspace
given by --workspace, on the small generated sets that need no download. The
oracles are chance level and the untrained model's loss: a quick run must beat
them, and it must leave its results where tito reads them.
"""

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tito.course import load_course
from tito.datasets import load_text
from tito.export import export_reference

COURSE = load_course()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    export_reference(COURSE, root)
    (root / ".tito").mkdir()
    return root


def run(milestone: str, workspace: Path, *args: str) -> subprocess.CompletedProcess:
    script = COURSE.path(COURSE.milestone(milestone).script)
    return subprocess.run(
        [sys.executable, str(script), "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def results(workspace: Path, milestone: str) -> dict:
    slug = COURSE.milestone(milestone).slug
    return json.loads((workspace / "milestones" / slug / "results.json").read_text())


def test_cnn_quick_run_learns_the_generated_shapes(workspace):
    done = run("04", workspace, "--quick", "--dataset", "shapes")
    assert done.returncode == 0, done.stderr[-3000:]

    found = results(workspace, "04")
    assert found["metric"] == "test_accuracy" and found["quick"] is True
    assert found["dataset"] == "shapes" and len(found["history"]) == 2
    assert found["value"] > 0.3  # ten classes: chance is 0.1


def test_gpt_quick_run_learns_and_samples_again(workspace):
    done = run("05", workspace, "--quick")
    assert done.returncode == 0, done.stderr[-3000:]

    found = results(workspace, "05")
    vocab = len(set(load_text("tiny")))
    assert found["metric"] == "val_loss" and found["quick"] is True
    assert found["value"] < math.log(vocab)  # an untrained model's loss
    again = run(
        "05", workspace, "--sample", "--prompt", "A", "--length", "40",
        "--temperature", "0",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip()


def test_a_new_gpt_run_keeps_the_previous_model(workspace):
    out = workspace / "milestones" / COURSE.milestone("05").slug
    assert run("05", workspace, "--quick", "--steps", "3").returncode == 0
    first = {n: (out / n).read_bytes() for n in ("model.npz", "results.json")}
    done = run("05", workspace, "--quick", "--steps", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    kept = [d for d in (out / "previous").iterdir() if (d / "model.npz").is_file()]
    assert first in [{n: (d / n).read_bytes() for n in first} for d in kept]
    assert json.loads((out / "results.json").read_text())["steps"] == 2
    assert "the previous run's in" in done.stdout


def _script_args(milestone: str, *argv: str):
    """The script's own parse_args, run on argv."""
    path = COURSE.path(COURSE.milestone(milestone).script)
    spec = importlib.util.spec_from_file_location(f"train_{milestone}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_args(list(argv))


def test_quick_keeps_an_epoch_count_given_with_it():
    assert _script_args("04", "--quick").epochs == 2
    assert _script_args("04", "--quick", "--epochs", "1").epochs == 1
    assert _script_args("04").epochs == 8


BAD = [
    ("04", ["--epochs", "many"], "--epochs"),
    ("04", ["--lr", "nan"], "--lr"),
    ("04", ["--lr", "0"], "--lr"),
    ("04", ["--threads", "0"], "--threads"),
    ("04", ["--threads", "10000"], "more than the"),
    ("04", ["--seed", "-1"], "--seed"),
    ("04", ["--arch", ""], "unknown layer ''"),
    ("04", ["--arch", "c100000000"], "unknown layer 'c100000000'"),
    ("04", ["--workers", "64"], "more than the"),
    ("04", ["--arch", "xyz"], "unknown layer 'xyz'"),
    ("04", ["--arch", "c24,r48"], "keeps its width"),
    ("04", ["--arch", "c8,p,p,p,p,p,p"], "to nothing"),
    ("04", ["--dataset", "shapes", "--batch-size", "100000"], "5,000 training"),
    ("04", ["--dataset", "shapes", "--data-dir", "."], "--data-dir"),
    ("05", ["--dropout", "2"], "--dropout"),
    ("05", ["--steps", "0"], "--steps"),
    ("05", ["--temperature", "-1"], "--temperature"),
    ("05", ["--top-k", "0"], "--top-k"),
    ("05", ["--length", "-5"], "--length"),
    ("05", ["--seed", "5000000000"], "--seed"),
    ("04", ["--epochs", "99999999999999999999999"], "--epochs"),
    ("05", ["--length", "100000000"], "--length"),
    ("05", ["--steps", "10000000"], "--steps"),
    ("04", ["--data-dir", ""], "--data-dir"),
    ("05", ["--workspace", " "], "--workspace"),
    ("05", ["--quick", "--prompt", "ROMEO: €"], "Cannot generate from the prompt"),
    ("05", ["--tokenizer", "bpe", "--bpe-vocab", "5"], "--bpe-vocab 5"),
]


@pytest.mark.parametrize(("milestone", "argv", "named"), BAD)
def test_bad_input_is_two_lines_without_traceback(workspace, milestone, argv, named):
    done = run(milestone, workspace, *argv)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and named in lines[0], done.stderr
    assert lines[1].split()[0] in ("Pass", "Drop", "`python"), lines[1]  # what to do


def test_a_corpus_too_short_for_the_context_is_named(workspace, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be: that is the question.\n" * 3)
    done = run("05", workspace, "--quick", "--data-dir", str(short))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    what, todo = done.stderr.strip().splitlines()[-2:]  # after a note on the file
    assert what.startswith("error: ") and "too short" in what, done.stderr
    assert "drop --data-dir" in todo


def test_ctrl_c_stops_a_run_quietly(workspace):
    script = COURSE.path(COURSE.milestone("05").script)
    proc = subprocess.Popen(
        [sys.executable, str(script), "--workspace", str(workspace), "--quick"]
        + ["--steps", "100000", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        start_new_session=True,
        # a shell's background job ignores SIGINT, and its children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in proc.stderr:  # the progress lines: training has begun
        if line.startswith("step"):
            break
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "Interrupted.", err
    assert "Traceback" not in err, err


def test_a_diverging_run_stops_and_saves_nothing(workspace, tmp_path):
    ws = tmp_path / "ws"
    export_reference(COURSE, ws)
    for milestone, argv in [
        ("04", ["--quick", "--dataset", "shapes", "--lr", "1e30"]),
        ("05", ["--quick", "--lr", "1e10"]),
    ]:
        done = run(milestone, ws, *argv)
        assert done.returncode == 1, done.stderr[-2000:]
        what, todo = done.stderr.strip().splitlines()[-2:]
        assert "Training diverged" in what and "--lr" in todo, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert "Warning" not in done.stderr, done.stderr[-2000:]  # only the error
        assert not (ws / "milestones" / COURSE.milestone(milestone).slug).exists()


def _empty(path):
    path.write_bytes(b"")


def _truncated(path):
    path.write_bytes(path.read_bytes()[:100])


def _fewer_tokens(path):
    saved = json.loads(path.read_text())
    saved["chars"] = saved["chars"][:10]
    path.write_text(json.dumps(saved))


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("model.npz", _empty),
        ("model.npz", _truncated),
        ("config.json", _truncated),
        ("tokenizer.json", _fewer_tokens),
    ],
)
def test_a_damaged_saved_model_is_named_when_sampling(
    workspace, tmp_path, name, damage
):
    import shutil

    out = workspace / "milestones" / COURSE.milestone("05").slug
    if not (out / "model.npz").is_file():
        assert run("05", workspace, "--quick", "--steps", "2").returncode == 0
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    damage(copy / "milestones" / COURSE.milestone("05").slug / name)
    done = run("05", copy, "--sample")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "cannot be loaded" in done.stderr and "previous" in done.stderr


def test_a_workspace_that_does_not_exist_is_named(tmp_path):
    for milestone in ("04", "05"):
        done = run(milestone, tmp_path / "nowhere", "--quick")
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 2 and "There is no workspace at" in lines[0], done.stderr


def test_a_second_run_of_a_milestone_is_refused_while_one_trains(tmp_path):
    ws = tmp_path / "ws"
    export_reference(COURSE, ws)
    slug = COURSE.milestone("04").slug
    mark = ws / "milestones" / f".{slug}.running"
    mark.parent.mkdir(parents=True)
    mark.write_text(str(os.getpid()))  # a live process: this one
    done = run("04", ws, "--quick", "--dataset", "shapes", "--epochs", "1")
    assert done.returncode == 1, done.stderr[-2000:]
    what, todo = done.stderr.strip().splitlines()[-2:]
    assert "already training" in what and str(os.getpid()) in what, what
    assert "Wait" in todo and "Traceback" not in done.stderr
    assert not (ws / "milestones" / slug).exists()  # nothing written
    assert mark.read_text() == str(os.getpid())  # the other run's mark is left

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    mark.write_text(gone)  # left by a run that was killed
    done = run("04", ws, "--quick", "--dataset", "shapes", "--epochs", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not mark.exists()  # taken over, then removed at the end
    assert results(ws, "04")["epochs"] == 1


@pytest.mark.parametrize("blocked", ["", "previous"])
def test_a_run_whose_results_cannot_be_saved_is_refused_before_training(
    tmp_path, blocked
):
    ws = tmp_path / "ws"
    export_reference(COURSE, ws)
    out_dir = ws / "milestones" / COURSE.milestone("04").slug
    in_the_way = out_dir / blocked if blocked else out_dir
    in_the_way.parent.mkdir(parents=True, exist_ok=True)
    in_the_way.write_text("a file where a folder belongs")
    done = run("04", ws, "--quick", "--dataset", "shapes", "--epochs", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    what, todo = done.stderr.strip().splitlines()
    assert "could not be saved" in what and str(out_dir) in what, what
    assert "nothing has been trained" in todo
    assert "epoch" not in done.stdout  # refused before the first epoch
    assert in_the_way.read_text() == "a file where a folder belongs"
    assert not list(out_dir.parent.glob(".*.running"))


def test_results_that_fail_to_save_after_training_are_named(tmp_path):
    ws = tmp_path / "ws"
    export_reference(COURSE, ws)
    out_dir = ws / "milestones" / COURSE.milestone("04").slug
    (out_dir / "results.json").mkdir(parents=True)  # writing it will fail
    done = run("04", ws, "--quick", "--dataset", "shapes", "--epochs", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "test accuracy" in done.stdout  # the result is shown all the same
    what, todo = done.stderr.strip().splitlines()[-2:]
    assert "Training finished, but its files could not be saved" in what, what
    assert "writable" in todo
