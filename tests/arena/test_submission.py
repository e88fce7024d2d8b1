"""`xraybench submit`: a valid submission end to end (offline, metric:clinical) and every validation error."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from arena.judging import export_battles
from arena.submission import SubmitConfig, check_name, submit, validate_predictions
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.taskdata import load_task

TASK = "demo_findings"
N_FIELD = 3


def _sentences(text: str, n: int) -> str:
    return " ".join([s.strip() + "." for s in text.split(".") if s.strip()][:n])


MAKERS: dict[str, Callable[[str], str]] = {
    "perfect": lambda ref: ref,
    "fair": lambda ref: _sentences(ref, 1),
    "bad": lambda ref: "The heart is enlarged. There is a large left pleural effusion and a right pneumothorax.",
    "good": lambda ref: _sentences(ref, 3),
}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(name: str, path: Path, arena: str = "demo", **options: object) -> SubmitConfig:
    """A submission without progress bars, and without METEOR (its paraphrase index takes ~30 s to build)."""
    return SubmitConfig(
        name=name, predictions=str(path), arena=arena, progress=False, skip_metrics=["meteor"], **options
    )  # type: ignore[arg-type]


def _rows(make: Callable[[str], str]) -> list[dict]:
    return [{"id": s.id, "prediction": make(s.reference)} for s in load_task(TASK).samples]


@pytest.fixture()
def arena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An arena of three models judged offline by metric:clinical on the demo task, in a fresh folder."""
    monkeypatch.chdir(tmp_path)
    specs = [f"{n}={_write(tmp_path / f'{n}.jsonl', _rows(MAKERS[n]))}" for n in list(MAKERS)[:N_FIELD]]
    args = ["arena", "judge", "--name", "demo", "--task", TASK, "--judge", "metric:clinical", "--json"]
    assert main([*args, "--predictions", *specs]) == 0
    return tmp_path


def test_valid_submission_end_to_end(arena: Path, capsys: pytest.CaptureFixture) -> None:
    good = _write(arena / "good.jsonl", _rows(MAKERS["good"]))
    store = arena / "arenas" / "demo" / "judgments.sqlite"
    with CallStore(store) as calls:
        before = calls.totals().n_ok
    capsys.readouterr()
    assert main(["submit", "--name", "good", "--predictions", str(good), "--arena", "demo", "--prior", "1",
                 "--rounds", "20", "--no-progress", "--skip-metrics", "meteor"]) == 0  # fmt: skip
    assert "manifest: arenas/demo/submissions/good.json" in capsys.readouterr().out
    assert not (arena / "leaderboards").exists()  # nothing written into a tracked leaderboards/ by default
    manifest = json.loads((arena / "arenas" / "demo" / "submissions" / "good.json").read_text())
    assert manifest["predictions"]["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert manifest["predictions"]["bytes"] == good.stat().st_size and manifest["predictions"]["n_predictions"] == 16
    assert (manifest["arena"], manifest["judge"], manifest["task"]) == ("demo", "metric:clinical", TASK)
    assert manifest["prompt_version"].startswith("none") and manifest["cost_usd"] == 0.0
    assert manifest["n_field_models"] == N_FIELD and manifest["xraybench_version"]
    assert manifest["metrics"]["rouge_l"] > 0.5 and Path(manifest["run_dir"], "results.json").exists()
    with CallStore(store) as calls:
        export = export_battles(calls, store.with_suffix(".plan.jsonl"))
        after = calls.totals().n_ok
    new = [r for r in export.rows if "good" in (r["model_a"], r["model_b"])]
    assert manifest["n_judgments"] == len(new) == N_FIELD * 16 * 2  # against the field only, both orders
    identical = sum(r["model_a"] == "good" and r["model_b"] == "perfect" and r["verdict"] == "tie" for r in new)
    assert after - before == len(new) - identical
    board = json.loads((arena / "arenas" / "demo" / "leaderboard" / "leaderboard.json").read_text())
    assert [r["model"] for r in board["models"]] == ["perfect", "good", "fair", "bad"]
    assert board["proxy_note"] == "reference-based proxy judge (metric:clinical), not an LLM judgment"
    good_row = next(r for r in board["models"] if r["model"] == "good")
    assert good_row["metrics"][f"{TASK}/rouge_l"] == pytest.approx(manifest["metrics"]["rouge_l"], abs=1e-6)
    # a second submission is refused; a new model keeps the first one's metric columns on the leaderboard
    with pytest.raises(XrayBenchError, match="already submitted"):
        submit(_config("good", good))
    other = _write(arena / "other.jsonl", _rows(lambda ref: _sentences(ref, 2)))
    submit(_config("two", other, prior=1.0, bootstrap_rounds=0))
    board = json.loads((arena / "arenas" / "demo" / "leaderboard" / "leaderboard.json").read_text())
    rows = {r["model"]: r["metrics"] for r in board["models"]}
    assert rows["good"][f"{TASK}/rouge_l"] is not None and rows["two"][f"{TASK}/rouge_l"] is not None


def test_killed_submission_resumes(arena: Path) -> None:
    """Judged but no manifest (killed before the end): the same file under the same name is a resume."""
    good = _write(arena / "good.jsonl", _rows(MAKERS["good"]))
    config = _config("good", good, prior=1.0, bootstrap_rounds=0)
    first = submit(config)
    Path(first["manifest"]).unlink()
    again = submit(config)
    assert again["n_judgments"] == first["n_judgments"]
    changed = _write(arena / "changed.jsonl", _rows(MAKERS["bad"]))
    Path(again["manifest"]).unlink()
    with pytest.raises(XrayBenchError, match="already has a model named 'good'"):
        submit(_config("good", changed))
    with pytest.raises(XrayBenchError, match="already has a model named 'perfect'"):
        submit(_config("perfect", changed))


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b", "x" * 65, "metric:clinical", "../up"])
def test_bad_model_names(name: str) -> None:
    with pytest.raises(XrayBenchError, match="is not allowed"):
        check_name(name)
    assert check_name("Model-1.5_b+x") == "Model-1.5_b+x"


def test_arena_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "p.jsonl", _rows(MAKERS["good"]))
    with pytest.raises(XrayBenchError, match="no arena at"):
        submit(_config("m", path, arena="nowhere"))


@pytest.fixture()
def samples() -> list:
    return load_task(TASK).samples


def _expect(path: Path, samples: list, match: str, line: int | None = None, **limits: int) -> None:
    with pytest.raises(DataFormatError, match=match) as info:
        validate_predictions(path, TASK, samples, path.parent, **limits)
    assert str(path) in str(info.value)
    if line is not None:
        assert info.value.line == line


def test_validation_errors(tmp_path: Path, samples: list) -> None:
    good = _rows(MAKERS["good"])
    ids = [r["id"] for r in good]
    cases: list[tuple[str, list[dict] | str, str, int | None]] = [
        ("missing", good[:-1], f"no prediction for 1 of the 16 studies of task {TASK}: {ids[-1]}", None),
        ("duplicate", [*good, good[3]], f"a second prediction for id '{ids[3]}' \\(first on line 4, the same text\\)", 17),
        ("unknown", [*good, {"id": "nope", "prediction": "x"}], "unknown id 'nope'", 17),
        ("schema", [{"id": ids[0], "text": "x"}, *good[1:]], 'found the field\\(s\\) "id", "text"; expected an object', 1),
        ("not_object", "[1, 2]\n", "found one JSON array; expected JSONL", 1),
        ("bad_json", '{"id": 1,\n', "invalid JSON", 1),
        ("empty", [{"id": ids[0], "prediction": "  "}, *good[1:]], "empty prediction", 1),
        ("task", [{**good[0], "task": "demo_impression"}, *good[1:]], "not the arena's task", 1),
        ("field", [{**good[0], "score": 1}, *good[1:]], "unknown field\\(s\\) score", 1),
        ("abs_path", [{**good[0], "image": "/etc/passwd"}, *good[1:]], "must be relative", 1),
        ("dotdot", [{**good[0], "images": ["a.png", "../x.png"]}, *good[1:]], "without '..'", 1),
        ("nul_path", [{**good[0], "image": "sub/a\x00b.png"}, *good[1:]], "contains a NUL byte", 1),
        ("two_problems", [{**good[0], "image": "/x"}, {"id": "nope", "prediction": "x"}, *good[1:]],
         "1 more problems: line 2: unknown id 'nope'", 1),
    ]  # fmt: skip
    for label, rows, match, line in cases:
        path = tmp_path / f"{label}.jsonl"
        if isinstance(rows, str):
            path.write_text(rows)
        else:
            _write(path, rows)
        _expect(path, samples, match, line)
    (tmp_path / "link").symlink_to("/")
    linked = _write(tmp_path / "linked.jsonl", [{**good[0], "image_path": "link/etc/passwd"}, *good[1:]])
    _expect(linked, samples, "leads outside the data root", 1)
    ok = _write(tmp_path / "ok.jsonl", [{**good[0], "image": "sub/img.png"}, *good[1:]])
    assert len(validate_predictions(ok, TASK, samples, tmp_path)) == 16
    _expect(ok, samples, "bytes is over the limit", max_bytes=100)
    _expect(ok, samples, "characters \\(limit 5\\)", line=1, max_chars=5)
    with pytest.raises(XrayBenchError, match="not found"):
        validate_predictions(tmp_path / "absent.jsonl", TASK, samples, None)


def test_rexrank_json_and_cli_error(tmp_path: Path, samples: list, capsys: pytest.CaptureFixture) -> None:
    rex = tmp_path / "rex.json"
    rex.write_text(json.dumps({s.id: {"model_prediction": s.reference} for s in samples}, indent=1))
    assert len(validate_predictions(rex, TASK, samples, None)) == 16
    rex.write_text(json.dumps({**{s.id: {"model_prediction": "x"} for s in samples}, "zz": {"other": 1}}, indent=1))
    _expect(rex, samples, "record zz")
    assert main(["submit", "--name", "bad name", "--predictions", str(rex), "--arena", "a"]) == 1
    assert "is not allowed" in capsys.readouterr().err


def test_submission_with_llm_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an LLM judge (the local test server, real HTTP) the new model's battles are the only calls made."""
    from xraybench.models.litellm_model import import_litellm
    from xraybench.testing.openai_server import OpenAIServer

    try:
        import_litellm()
    except XrayBenchError:
        pytest.skip("litellm (the 'judge' extra) is not installed")
    monkeypatch.chdir(tmp_path)
    specs = [f"{n}={_write(tmp_path / f'{n}.jsonl', _rows(MAKERS[n]))}" for n in ("fair", "bad")]
    answer = '{"errors_a": [], "errors_b": [], "verdict": "A>B"}'
    with OpenAIServer(reply_fn=lambda body: answer) as server:
        judge = ["--judge", "openai/tiny-test-model", "--api-base", server.base_url]
        args = ["arena", "judge", "--name", "llm", "--task", TASK, "--studies", "4", "--json", *judge]
        assert main([*args, "--predictions", *specs]) == 0
        n_field = len(server.chat_requests())
        good = _write(tmp_path / "good.jsonl", _rows(MAKERS["good"]))
        manifest = submit(_config("good", good, arena="llm", api_base=server.base_url, prior=1.0, bootstrap_rounds=0))
        assert len(server.chat_requests()) - n_field == 2 * 4 * 2  # two field models x 4 studies x both orders
    assert manifest["judge"] == "openai/tiny-test-model" and manifest["n_judgments"] == 16
    board = json.loads((tmp_path / "arenas" / "llm" / "leaderboard" / "leaderboard.json").read_text())
    assert board["proxy_note"] is None and board["prompt_version"] == manifest["prompt_version"]


def test_a_submission_whose_judge_gives_no_verdicts_publishes_no_leaderboard(
    needs_litellm: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submission rebuilt the arena's leaderboard with its own copy of the leaderboard code, which skipped the
    min-verdict check: a judge that could not answer for the new model still published a leaderboard."""
    from xraybench.testing.openai_server import OpenAIServer

    monkeypatch.chdir(tmp_path)
    specs = [f"{n}={_write(tmp_path / f'{n}.jsonl', _rows(MAKERS[n]))}" for n in ("fair", "bad")]
    answers = {"reply": '{"errors_a": [], "errors_b": [], "verdict": "A>B"}'}
    with OpenAIServer(reply_fn=lambda body: answers["reply"]) as server:
        judge = ["--judge", "openai/tiny-test-model", "--api-base", server.base_url, "--max-attempts", "1"]
        args = ["arena", "judge", "--arena", "llm", "--task", TASK, "--studies", "1", "--json", *judge]
        assert main([*args, "--predictions", *specs]) == 0  # the field: 2 verdicts
        answers["reply"] = "I think both reports are fine."  # no verdict for any of the new model's 4 battles
        good = _write(tmp_path / "good.jsonl", _rows(MAKERS["good"]))
        config = _config("good", good, arena="llm", api_base=server.base_url, prior=1.0, bootstrap_rounds=0)
        with pytest.raises(XrayBenchError, match="not publishing a leaderboard: the judge gave a verdict on 2 of 6"):
            submit(config)
    assert not (tmp_path / "arenas" / "llm" / "leaderboard" / "leaderboard.json").exists()
    assert not (tmp_path / "arenas" / "llm" / "submissions" / "good.json").exists()
