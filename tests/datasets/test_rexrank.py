"""ReXrank's test sets (`rexrank` dataset), submissions as `predictions:` and its leaderboards as `published:`.

The IU X-ray file is built at test time, in ReXrank's exact layout, from the real IU reports in
`../shared/data/iu_xray/` (read in place). The MIMIC-CXR and CheXpert Plus files in `rexrank_files/` are ours:
the same layout and quirks (bare NaN tokens, `<context>` wrappers, MIMIC's leading "/" in image paths), with
report text we wrote, since the credentialed text can never be in the repository.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from xraybench.cli import main
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.metrics.rexrank_bleu import rexrank_tokens, sentence_bleu2
from xraybench.models.predictions import PredictionsFile, read_prediction_file
from xraybench.published import compare_published, get_published
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

FILES = Path(__file__).parent / "rexrank_files"
IU_FILE = "iu_xray/ReXRank_IUXray_test.json"
MIMIC_FILE = "mimic-cxr/ReXRank_MIMICCXR_test.json"
CHEXPERT_FILE = "chexpert_plus/ReXRank_CheXpertPlus.json"


def build_iu_rexrank(
    shared: Path, root: Path, n: int = 40, images: bool = False, lateral_first: bool = False
) -> dict[str, dict]:
    """ReXrank's IU X-ray test file from the real IU reports: `CXR<uid>_IM-<n>` ids, `<id>/<k>.png` images with
    the first frontal as key image, "Indication: ... Comparison: ..." context, and the report as ReXrank writes
    it. The first `n` reports (file order) with both sections and at least one image; written under `root`.
    `lateral_first`: only studies with a frontal and a lateral view, listed lateral first (the IU projections CSV
    lists the frontal first; 43 of ReXrank's 590 IU studies list "Lateral", "Frontal")."""
    projections: dict[str, list[tuple[str, str]]] = {}
    with open(shared / "iu_xray" / "indiana_projections.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            projections.setdefault(row["uid"], []).append((row["filename"], row["projection"]))
    studies: dict[str, dict] = {}
    with open(shared / "iu_xray" / "indiana_reports.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            views = projections.get(row["uid"], [])
            findings, impression = row["findings"].strip(), row["impression"].strip()
            if not (views and findings and impression):
                continue
            if lateral_first:
                if sorted(v for _, v in views) != ["Frontal", "Lateral"]:
                    continue
                views = sorted(views, key=lambda v: v[1] != "Lateral")
            match = re.match(r"\d+_(IM-\d+)", views[0][0])
            if match is None:
                continue
            sid = f"CXR{row['uid']}_{match.group(1)}"
            paths = [f"{sid}/{k}.png" for k in range(len(views))]
            key = next((p for p, (_, view) in zip(paths, views, strict=True) if view == "Frontal"), paths[0])
            studies[sid] = {
                "key_image_path": key,
                "image_path": paths,
                "report": f"Findings: {findings} Impression: {impression}",
                "section_findings": findings,
                "section_impression": impression,
                "split": "test",
                "frontal_lateral": [view for _, view in views],
                "context": f"Indication: {row['indication'].strip()} Comparison: {row['comparison'].strip()}",
            }
            if len(studies) == n:
                break
    path = root / IU_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(studies, indent=4), encoding="utf-8")
    if images:  # a distinct size per view, so a test can tell which image a model was given
        for study in studies.values():
            for k, image in enumerate(study["image_path"]):
                target = root / "iu_xray" / "images" / image
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.new("L", (16 + 8 * k, 16), color=90).save(target)
    return studies


@pytest.fixture
def iu_root(shared_data: Path, tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    root = tmp_path / "rexrank"
    return root, build_iu_rexrank(shared_data, root)


@pytest.fixture
def own_root(tmp_path: Path) -> Path:
    """Our MIMIC-CXR and CheXpert Plus files, copied into a ReXrank data root."""
    root = tmp_path / "rexrank"
    for name in (MIMIC_FILE, CHEXPERT_FILE):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FILES / name, root / name)
    return root


def _load(task: str, root: Path) -> dict:
    data = load_task(task, {"rexrank": str(root)})
    return {s.id: s for s in data.samples} | {"_data": data}


# -- the loader ----------------------------------------------------------------------------------------------


def test_iu_xray_from_real_reports(iu_root: tuple[Path, dict[str, dict]]) -> None:
    root, studies = iu_root
    full, findings = _load("rexrank_iu_xray", root), _load("rexrank_iu_xray_findings", root)
    assert len(full) - 1 == len(studies) == len(findings) - 1 == 40
    for sid, study in studies.items():
        sample = full[sid]
        # the reference is the full text ReXrank scores; the findings task scores FINDINGS only
        assert sample.reference == study["report"]  # as ReXrank scores it, whitespace and all
        assert sample.reference.startswith("Findings: ") and " Impression: " in sample.reference
        assert findings[sid].reference == study["section_findings"]
        assert not sample.credentialed and sample.dataset == "rexrank"
        # every view, the key (frontal) one first; the context goes into the prompt before the instruction
        expected = [study["key_image_path"]] + [p for p in study["image_path"] if p != study["key_image_path"]]
        assert [
            Path(p).relative_to((root / "iu_xray" / "images").resolve()).as_posix() for p in sample.image_paths
        ] == expected
        assert sample.metadata["key_image"] == sample.image_paths[0]
        context = re.sub(r"\s+", " ", study["context"]).strip()
        assert sample.prompt.startswith(f"Clinical context: {context}\n") and "FINDINGS" in sample.prompt
    # a real study whose frontal view is not listed first (the IU projections CSV lists views in any order)
    reordered = [s for s in studies.values() if s["key_image_path"] != s["image_path"][0]]
    assert not reordered or all(
        full[next(k for k, v in studies.items() if v is s)].image_paths[0].endswith(s["key_image_path"])
        for s in reordered
    )
    assert any("images were not found" in note for note in full["_data"].notes)  # a note, not an error


def test_mimic_quirks_nan_context_and_credentialed(own_root: Path) -> None:
    text = (own_root / MIMIC_FILE).read_text()
    with pytest.raises(ValueError):  # the bare NaN tokens real copies have: a strict parser refuses the file
        json.loads(text, parse_constant=lambda token: (_ for _ in ()).throw(ValueError(token)))
    full, findings = _load("rexrank_mimic_cxr", own_root), _load("rexrank_mimic_cxr_findings", own_root)
    assert sorted(k for k in full if k != "_data") == ["59990001", "59990002", "59990003", "59990004"]
    # a NaN impression is written "None", as ReXrank's evaluation script writes it; line breaks stay
    assert full["59990002"].reference.endswith("Mild cardiomegaly. Impression: None")
    assert full["59990001"].reference == (
        "Findings: Written for xraybench tests.\nThe heart size is normal. The lungs are clear without focal "
        "consolidation.\nNo pleural effusion or pneumothorax. Impression: No acute cardiopulmonary abnormality."
    )
    assert full["59990002"].metadata["impression"] == ""
    assert findings["59990002"].reference == (
        "Portable view. Small left pleural effusion with adjacent atelectasis. Mild cardiomegaly."
    )
    assert all(s.credentialed for k, s in full.items() if k != "_data")
    # <context>...</context> unwrapped; an empty context gives the bare instruction
    assert full["59990001"].prompt.startswith("Clinical context: Age:60-70.Gender:F.Indication: ___-year-old woman")
    assert "<context>" not in full["59990001"].prompt and "</context>" not in full["59990004"].prompt
    assert not full["59990003"].prompt.startswith("Clinical context")
    # MIMIC's paths start with "/": they are joined under mimic-cxr/files, key image first
    files = (own_root / "mimic-cxr" / "files").resolve()
    first = full["59990001"].image_paths
    assert first[0] == str(files / "p19/p19990001/s59990001/5b5b5b5b-66666666-77777777-88888888-99999999.jpg")
    assert len(full["59990003"].image_paths) == 3 and full["59990001"].metadata["subject_id"] == "19990001"


def test_chexpert_plus_missing_findings(own_root: Path) -> None:
    full, findings = _load("rexrank_chexpert_plus", own_root), _load("rexrank_chexpert_plus_findings", own_root)
    assert full["patient69991_study1"].reference == (
        "Findings: None Impression: 1. Written for xraybench tests: no acute cardiopulmonary process.\n"
        "2. Stable support devices."
    )
    assert list(k for k in findings if k != "_data") == ["patient69992_study1"]
    assert findings["_data"].dropped == {"empty_findings": 2}
    assert findings["patient69992_study1"].reference == (
        "The cardiomediastinal silhouette is within normal limits.\nRight lower lobe consolidation."
    )
    # the lateral view is listed first in the file; the key (frontal) view goes first to the model
    assert (
        full["patient69992_study1"]
        .image_paths[0]
        .endswith("chexpert_plus/PNG/valid/patient69992/study1/view1_frontal.png")
    )
    assert full["patient69992_study1"].prompt.startswith(
        "Clinical context: Age:55.0.Gender:M.Indication:Fever and cough."
    )
    assert all(s.credentialed for k, s in full.items() if k != "_data")


def test_bad_record_names_file_line_and_study(own_root: Path) -> None:
    path = own_root / MIMIC_FILE
    text = path.read_text()
    path.write_text(text.replace('"section_findings": "Right internal', '"section_findings": 7, "x": "Right internal'))
    line = text[: text.index('"59990003"')].count("\n") + 1
    with pytest.raises(DataFormatError) as info:
        load_task("rexrank_mimic_cxr", {"rexrank": str(own_root)})
    assert str(info.value).startswith(
        f"{path}:{line} (record 59990003): study '59990003': 'section_findings' should be text"
    )
    path.write_text(text.replace('"key_image_path": "/p19/p19990002', '"key_image_path": "/p19/elsewhere'))
    with pytest.raises(
        DataFormatError, match=r"record 59990002\): .*'key_image_path' .* is not one of its 'image_path'"
    ):
        load_task("rexrank_mimic_cxr", {"rexrank": str(own_root)})


def test_missing_file_says_where_it_is_expected(own_root: Path) -> None:
    with pytest.raises(DataFormatError, match=r"cannot find iu_xray/ReXRank_IUXray_test.json .*found chexpert_plus/"):
        load_task("rexrank_iu_xray", {"rexrank": str(own_root)})


# -- submissions ---------------------------------------------------------------------------------------------


def _submission(root: Path, studies: dict[str, dict], path: Path) -> dict[str, str]:
    """A ReXrank submission: the test file plus `model_prediction` (each study gets the next study's report)."""
    data = json.loads((root / IU_FILE).read_text())
    ids = list(data)
    predictions = {sid: studies[ids[(i + 1) % len(ids)]]["report"] for i, sid in enumerate(ids)}
    for sid in ids:
        data[sid]["model_prediction"] = predictions[sid]
    path.write_text(json.dumps(data, indent=4))
    return predictions


def test_submission_with_nan_fields_reads_and_bad_prediction_names_line(own_root: Path, tmp_path: Path) -> None:
    text = (own_root / MIMIC_FILE).read_text()
    sub = tmp_path / "sub.json"
    sub.write_text(re.sub(r'("report": "[^"]*")', r'\1,\n        "model_prediction": "No acute process."', text))
    report = read_prediction_file(sub)
    assert report.format == "rexrank" and not report.problems and len(report.rows) == 4
    # the model failed on one study: its prediction is NaN, as pandas writes it
    broken = sub.read_text().replace('"model_prediction": "No acute process."', '"model_prediction": NaN', 1)
    sub.write_text(broken)
    line = broken[: broken.index('"59990001"')].count("\n") + 1
    report = read_prediction_file(sub)
    assert report.malformed == [
        f'{sub}:{line} (record 59990001): found the number nan; expected {{"model_prediction": "report text"}}'
    ]
    with pytest.raises(XrayBenchError, match=rf"sub.json:{line} \(record 59990001\)"):
        PredictionsFile(str(sub))


def test_run_submission_and_compare_beside_published(
    iu_root: tuple[Path, dict[str, dict]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`xraybench run --model predictions:<ReXrank submission>` on the IU file, then `compare` beside ReXrank's
    leaderboard: rexrank_bleu is CXR-Report-Metric's BLEU-2, recomputed here with NLTK from the same texts."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    root, studies = iu_root
    sub, out = tmp_path / "submission.json", tmp_path / "run"
    predictions = _submission(root, studies, sub)
    argv = [
        "run",
        "--model",
        f"predictions:{sub}",
        "--tasks",
        "rexrank_iu_xray",
        "--data-root",
        f"rexrank={root}",
        "--out",
        str(out),
        "--bootstrap-rounds",
        "0",
        "--no-progress",
        "--skip-metrics",
        "chexpert,meteor,cider",
    ]  # fmt: skip  (the slow ones; scored elsewhere)
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    value = results["tasks"]["rexrank_iu_xray"]["metrics"]["rexrank_bleu"]["value"]
    smooth = SmoothingFunction().method1
    expected = [
        sentence_bleu([rexrank_tokens(s["report"])], rexrank_tokens(predictions[sid]),
                      (0.5, 0.5), smoothing_function=smooth)
        for sid, s in studies.items()
    ]  # fmt: skip
    assert value == pytest.approx(sum(expected) / len(expected), abs=1e-12)
    capsys.readouterr()
    assert main(["compare", str(out), "published:rexrank-iu_xray"]) == 0
    shown = capsys.readouterr().out
    assert "this run" in shown and "MedVersa" in shown and "0.195" in shown and f"{value:.4f}" in shown
    assert "2024-11-19" in shown  # the date MedVersa's row was listed
    rows = compare_published(out, "rexrank-iu_xray")
    assert [(r["task"], r["metric"], r["published_metric"]) for r in rows] == [
        ("rexrank_iu_xray", "rexrank_bleu", "BLEU (BLEU-2)")
    ]
    assert rows[0]["published"]["UniRG-CXR"] == 0.295 and rows[0]["run"] == pytest.approx(value)
    assert rows[0]["published_rows"]["MedVersa"]["source"].endswith("/results/result_iu_xray.csv")
    # the same run beside another test set's leaderboard is refused, not compared
    with pytest.raises(XrayBenchError, match="nothing to compare with published:rexrank-mimic_cxr"):
        compare_published(out, "rexrank-mimic_cxr")


def test_published_rows_carry_source_and_date() -> None:
    for name, task in (("rexrank-iu_xray", "rexrank_iu_xray"), ("rexrank-mimic_cxr", "rexrank_mimic_cxr"),
                       ("rexrank-chexpert_plus", "rexrank_chexpert_plus")):  # fmt: skip
        pub = get_published(f"published:{name}")
        report, findings = pub.tables
        assert report.tasks == (task,) and findings.tasks == (f"{task}_findings",)
        assert len(findings.rows) == 25 and len(report.rows) == 7
        for table in pub.tables:
            for model in table.rows:
                info = table.row_info[model]
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", info["date"]), (name, model)
                assert info["source"].startswith("https://github.com/rajpurkarlab/ReXrank/blob/")
    iu = get_published("rexrank-iu_xray").tables[0]
    assert iu.rows["MedVersa"] == (0.195, 0.518, 0.601, 0.244, 1.452, 0.628, 0.658)
    assert get_published("rexrank-chexpert_plus").tables[0].rows["GPT4V"][1] == -0.065


# -- governance and images -----------------------------------------------------------------------------------


def _remote(server: OpenAIServer) -> str:
    return server.base_url.replace("127.0.0.1", "127.1")  # reaches the server, not a name governance calls local


def test_credentialed_tasks_refused_for_a_remote_endpoint_iu_goes_with_every_view(
    own_root: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    studies = build_iu_rexrank(shared_data, own_root, n=3, images=True)
    base = ["run", "--model", "openai:tiny-test-model", "--data-root", f"rexrank={own_root}", "--bootstrap-rounds",
            "0", "--no-progress", "--skip-metrics", "chexpert,meteor,cider"]  # fmt: skip
    with OpenAIServer() as server:
        for task in ("rexrank_mimic_cxr", "rexrank_chexpert_plus_findings"):
            code = main([*base, "--tasks", task, "--out", str(tmp_path / task), "--api-base", _remote(server)])
            err = capsys.readouterr().err
            assert code != 0 and task in err and "--allow-provider openai" in err and "Traceback" not in err
        assert server.chat_requests() == []  # nothing was sent
        out = tmp_path / "iu"
        assert main([*base, "--tasks", "rexrank_iu_xray", "--out", str(out), "--api-base", _remote(server)]) == 0
        sent = server.chat_requests()
    assert len(sent) == 3
    views = sorted(
        sum(1 for part in body.body["messages"][-1]["content"] if part.get("type") == "image_url") for body in sent
    )
    assert views == sorted(len(s["image_path"]) for s in studies.values())  # every view of each study
    assert all("Clinical context: Indication:" in json.dumps(r.body) for r in sent)


def test_a_single_image_api_model_gets_the_key_image(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--model-arg max_images=1`: each request carries one image, the study's key (frontal) view, whatever
    the order of `image_path` in the file (views are drawn with distinct widths: 16 + 8 * their index)."""
    import base64
    import io

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    root = tmp_path / "rexrank"
    studies = build_iu_rexrank(shared_data, root, n=4, images=True, lateral_first=True)
    assert len(studies) == 4 and all(s["key_image_path"] != s["image_path"][0] for s in studies.values())
    with OpenAIServer() as server:
        argv = ["run", "--model", "openai:tiny-test-model", "--model-arg", "max_images=1", "--tasks",
                "rexrank_iu_xray", "--data-root", f"rexrank={root}", "--out", str(tmp_path / "run"), "--api-base",
                server.base_url, "--bootstrap-rounds", "0", "--no-progress", "--skip-metrics",
                "chexpert,meteor,cider"]  # fmt: skip
        assert main(argv) == 0
        sent = server.chat_requests()
    widths = {}
    for request in sent:
        parts = request.body["messages"][-1]["content"]
        images = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
        assert len(images) == 1
        text = " ".join(p.get("text", "") for p in parts if p.get("type") == "text")
        image = Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1])))
        widths[text] = image.size[0]
    expected = sorted(16 + 8 * s["image_path"].index(s["key_image_path"]) for s in studies.values())
    assert sorted(widths.values()) == expected and all(w > 16 for w in widths.values())  # never the lateral


def test_vllm_request_gives_a_single_image_model_the_key_image(tmp_path: Path) -> None:
    """A study with more views than the engine takes (`max_images`): the first ones, i.e. the key image first."""
    from xraybench.models.vllm import VLLMModel, VLLMOptions
    from xraybench.records import Sample

    paths = []
    for k, width in enumerate((40, 24, 32)):  # key view first, as the loader orders them
        path = tmp_path / f"{k}.png"
        Image.new("L", (width, 16)).save(path)
        paths.append(str(path))

    class Tokenizer:
        def apply_chat_template(self, messages: list, **_: object) -> str:
            return json.dumps(messages)

    model = VLLMModel.__new__(VLLMModel)
    model.tokenizer, model.template, model.image_kwargs, model.options = Tokenizer(), None, {}, VLLMOptions()
    sample = Sample("s", "rexrank_mimic_cxr", "rexrank", "test", "p", "r", image_paths=paths)
    for limit, sizes in ((1, [(40, 16)]), (4, [(40, 16), (24, 16), (32, 16)])):
        model.max_images = limit
        request = model._request(sample, "p")
        images = request["multi_modal_data"]["image"]
        images = images if isinstance(images, list) else [images]
        assert [i.size for i in images] == sizes
        assert request["prompt"].count('"image"') == len(sizes)


def test_compare_radcliq_as_one_over_the_mean_and_only_on_its_own_task(tmp_path: Path) -> None:
    """ReXrank's 1/RadCliQ-v1 is one over the mean RadCliQ-v1 (its 2025 findings tables equal that computed from
    their own four columns within rounding), so our radcliq_v1 is compared as 1/value; a findings run is
    compared with the Findings table only."""
    run = tmp_path / "run"
    run.mkdir()
    metrics = {"radcliq_v1": {"value": 0.8}, "semb_score": {"value": 0.5}, "rouge_l": {"value": 0.3}}
    body = {"schema_version": 1, "tasks": {"rexrank_mimic_cxr_findings": {"dataset": "rexrank", "metrics": metrics}}}
    (run / "results.json").write_text(json.dumps(body))
    rows = compare_published(run, "published:rexrank-mimic_cxr")
    assert {(r["table"], r["metric"], r["published_metric"]) for r in rows} == {
        ("findings", "semb_score", "SembScore"),
        ("findings", "1/radcliq_v1", "1/RadCliQ-v1"),
    }
    inverse = next(r for r in rows if r["metric"] == "1/radcliq_v1")
    assert inverse["run"] == pytest.approx(1.25) and inverse["published"]["MedVersa"] == 1.103
    assert inverse["left_out"] is None


def test_run_on_a_credentialed_submission_with_nan_fields(own_root: Path, tmp_path: Path) -> None:
    """A MIMIC-CXR submission straight from pandas (bare NaN tokens in the test fields, `<context>` wrappers) runs
    end to end with predictions:, and results.json marks the task credentialed (IU X-ray's is not)."""
    text = (own_root / MIMIC_FILE).read_text()
    sub = tmp_path / "sub.json"
    sub.write_text(
        re.sub(r'("report": "[^"]*")', r'\1,\n        "model_prediction": "Small left pleural effusion."', text)
    )
    out = tmp_path / "run"
    argv = ["run", "--model", f"predictions:{sub}", "--tasks", "rexrank_mimic_cxr_findings", "--data-root",
            f"rexrank={own_root}", "--out", str(out), "--bootstrap-rounds", "0", "--no-progress",
            "--skip-metrics", "chexpert,meteor,cider"]  # fmt: skip
    assert main(argv) == 0
    task = json.loads((out / "results.json").read_text())["tasks"]["rexrank_mimic_cxr_findings"]
    assert task["credentialed"] is True and task["n"] == 4
    expected = [
        sentence_bleu2(rexrank_tokens(f), rexrank_tokens("Small left pleural effusion."))
        for f in (json.loads(text)[k]["section_findings"] for k in ("59990001", "59990002", "59990003", "59990004"))
    ]
    assert task["metrics"]["rexrank_bleu"]["value"] == pytest.approx(sum(expected) / 4, abs=1e-12)


@pytest.mark.parametrize("adapter", ["openai:tiny-test-model", "hf:/nowhere", "vllm:/nowhere"])
def test_max_images_zero_is_refused(adapter: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """0 would send a study without any image: refused before any work, naming the option."""
    from xraybench.models.hf import HFOptions
    from xraybench.models.openai_compat import ChatOptions
    from xraybench.models.vllm import VLLMOptions

    options = {"openai": ChatOptions, "hf": HFOptions, "vllm": VLLMOptions}[adapter.split(":")[0]]
    with pytest.raises(XrayBenchError, match=r"max_images=0: expected at least 1"):
        options(max_images=0)
    argv = ["run", "--model", adapter, "--model-arg", "max_images=0", "--tasks", "demo_findings", "--out",
            str(tmp_path / "run"), "--api-base", "http://127.0.0.1:9/v1", "--no-progress"]  # fmt: skip
    if not adapter.startswith("openai"):
        argv = argv[: argv.index("--api-base")] + ["--no-progress"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "max_images=0: expected at least 1" in err and "Traceback" not in err
