"""`--data-option NAME.KEY=VALUE`: loader options from the command line of every command that loads data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from xraybench.cli import COMMANDS, build_parser, main
from xraybench.errors import XrayBenchError
from xraybench.taskdata import DataRoots, load_task, parse_data_roots

IU = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "iu_xray"


def _mimic_without_reports(root: Path, reports: Path) -> None:
    """A MIMIC-CXR-JPG folder (split file, no reports) and the reports unzipped elsewhere (texts invented)."""
    root.mkdir(parents=True)
    (root / "mimic-cxr-2.0.0-split.csv").write_text(
        "dicom_id,study_id,subject_id,split\nd1,50000001,10000001,test\nd2,50000002,10000002,test\n"
    )
    for subject, study, text in (("10000001", "50000001", "Clear lungs."), ("10000002", "50000002", "Small effusion.")):
        path = reports / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
        path.parent.mkdir(parents=True)
        path.write_text(f"FINAL REPORT\n FINDINGS: {text}\n\n IMPRESSION: Stable.\n")


def test_parse_roots_and_typed_options() -> None:
    roots = parse_data_roots(
        [
            "mimic_cxr=/data/jpg",
            "mimic_cxr.reports_root=/data/reports",
            "vqa_rad.xray_only=false",
            "iu_xray.layout=r2gen",
        ]
    )
    assert isinstance(roots, DataRoots) and dict(roots) == {"mimic_cxr": "/data/jpg"}
    assert roots.options == {
        "mimic_cxr": {"reports_root": "/data/reports"},
        "vqa_rad": {"xray_only": False},  # typed from the loader's default, not the string "false"
        "iu_xray": {"layout": "r2gen"},
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "mimic_cxr.report_root=/x",
            r"--data-option mimic_cxr.report_root=/x: the mimic_cxr dataset has no option 'report_root'\. "
            r"Did you mean 'reports_root'.*\? Its options: .*reports_root",
        ),
        ("mimik_cxr.reports_root=/x", r"unknown dataset 'mimik_cxr'\. Did you mean 'mimic_cxr'"),
        (
            "vqa_rad.xray_only=perhaps",
            r"--data-option vqa_rad.xray_only=perhaps: the vqa_rad dataset's option 'xray_only' expects bool, "
            r"got 'perhaps'",
        ),
        (
            "chexpert.uncertain=7",  # a text option stays text: the loader itself says what it accepts
            None,
        ),
        ("mimic_cxr.=x", r"expected --data-root NAME=PATH .* or --data-option NAME.KEY=VALUE"),
        ("mimic_cxr.reports_root", r"expected --data-root NAME=PATH"),
    ],
)
def test_bad_data_options_say_what_was_meant(item: str, message: str | None) -> None:
    if message is None:
        assert parse_data_roots([item]).options == {"chexpert": {"uncertain": "7"}}
        return
    with pytest.raises(XrayBenchError, match=message):
        parse_data_roots([item])


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        # paths keep the text as written: a year-named folder is not the number 2024, nor `yes` a boolean
        ("ms_cxr.image_root=2024", ("ms_cxr", "image_root", "2024")),
        ("ms_cxr.image_root=/data/x", ("ms_cxr", "image_root", "/data/x")),
        ("mimic_cxr.ms_cxr=yes", ("mimic_cxr", "ms_cxr", "yes")),
        ("chexpert.image_root=none", ("chexpert", "image_root", None)),
        ("xraybench_hf.subset=2024", ("xraybench_hf", "subset", "2024")),
        # booleans read as YAML reads them, as --model-arg and --metric-arg do
        ("vqa_rad.xray_only=true", ("vqa_rad", "xray_only", True)),
        ("vqa_rad.xray_only=no", ("vqa_rad", "xray_only", False)),
        ("chexpert.frontal_only=yes", ("chexpert", "frontal_only", True)),
        ("chexpert.frontal_only=False", ("chexpert", "frontal_only", False)),
        # and 1 / 0 for a switch, as --data-option read them before it shared the typing
        ("vqa_rad.xray_only=0", ("vqa_rad", "xray_only", False)),
        ("chexpert.frontal_only=1", ("chexpert", "frontal_only", True)),
    ],
)
def test_data_options_are_typed_by_the_loaders_annotations(item: str, expected: tuple[str, str, object]) -> None:
    name, key, value = expected
    typed = parse_data_roots([item]).options[name][key]
    assert typed == value and type(typed) is type(value)


def test_an_int_option_is_an_int_and_a_wrong_value_names_the_type() -> None:
    """A plugin loader's `limit: int` option: `7` is the int 7, `seven` an error naming what was expected."""
    from xraybench.datasets import DATASETS
    from xraybench.datasets.base import Dataset

    def load(root: object, *, task: str, split: str, limit: int = 10, scale: float = 1.0) -> object:
        raise AssertionError("not loaded")

    entry = Dataset(name="toy_ints", description="ints", load=load, needs_root=False)
    DATASETS.register("toy_ints", entry)
    try:
        options = parse_data_roots(["toy_ints.limit=7", "toy_ints.scale=2"]).options["toy_ints"]
        assert options == {"limit": 7, "scale": 2.0} and type(options["limit"]) is int
        with pytest.raises(XrayBenchError, match=r"toy_ints.limit=seven: the toy_ints dataset's option 'limit' "
                           r"expects int, got 'seven'"):  # fmt: skip
            parse_data_roots(["toy_ints.limit=seven"])
    finally:
        DATASETS.unregister("toy_ints")


def test_options_reach_the_loader_and_task_fixed_keys_are_refused(tmp_path: Path) -> None:
    _mimic_without_reports(tmp_path / "jpg", tmp_path / "reports")
    with pytest.raises(XrayBenchError, match=r"--data-option mimic_cxr.reports_root=PATH"):
        load_task("mimic_cxr_findings", parse_data_roots([f"mimic_cxr={tmp_path / 'jpg'}"]))
    roots = parse_data_roots([f"mimic_cxr={tmp_path / 'jpg'}", f"mimic_cxr.reports_root={tmp_path / 'reports'}"])
    data = load_task("mimic_cxr_findings", roots)
    assert [s.reference for s in data.samples] == ["Clear lungs.", "Small effusion."]
    with pytest.raises(XrayBenchError, match=r"task mimic_cxr_findings fixes it to 'findings'"):
        load_task("mimic_cxr_findings", parse_data_roots([f"mimic_cxr={tmp_path}", "mimic_cxr.section=impression"]))


def test_samples_command_takes_data_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _mimic_without_reports(tmp_path / "jpg", tmp_path / "reports")
    argv = ["samples", "--task", "mimic_cxr_findings", "--data-root", f"mimic_cxr={tmp_path / 'jpg'}", "--jsonl"]
    assert main(argv) == 1
    assert "--data-option mimic_cxr.reports_root=PATH" in capsys.readouterr().err
    assert main([*argv, "--data-option", f"mimic_cxr.reports_root={tmp_path / 'reports'}"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["s50000001", "s50000002"]


@pytest.mark.skipif(not IU.is_dir(), reason="shared IU X-ray reports not present (../shared/data)")
def test_layout_option_on_the_real_iu_files(capsys: pytest.CaptureFixture[str]) -> None:
    """The real Indiana CSVs have no annotation.json: forcing the R2Gen layout must say so, not load."""
    argv = ["samples", "--task", "iu_xray_findings", "--data-root", f"iu_xray={IU}", "--jsonl", "--limit", "3"]
    assert main(argv) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main([*argv, "--data-option", "iu_xray.layout=r2gen"]) == 1
    assert "expected annotation.json (R2Gen)" in capsys.readouterr().err


def _flags(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    """Option flags of every (nested) sub-command, keyed by its path ("run", "arena judge", ...)."""
    found: dict[str, set[str]] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        found[path] = {flag for action in p._actions for flag in action.option_strings}
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}".strip())

    walk(parser, "")
    return found


def test_every_command_with_data_root_takes_data_option() -> None:
    flags = _flags(build_parser())
    with_root = {path for path, names in flags.items() if "--data-root" in names}
    assert {"run", "samples", "validate", "submit"} <= with_root  # the commands are all seen
    assert {path for path in with_root if "--data-option" not in flags[path]} == set()
    assert set(COMMANDS) >= {path.split()[0] for path in with_root}


def test_a_plugin_loader_whose_annotations_cannot_be_resolved_is_typed_by_its_defaults() -> None:
    """`typing.get_type_hints` fails on a name the plugin never imported: each option then takes its default's type
    (text when the default is None), as before the loaders' annotations were read."""
    from xraybench.datasets import DATASETS
    from xraybench.datasets.base import Dataset

    def load(root: object, *, task: str, split: str, strict: NotImported = False, root2: NotImported = None) -> object:  # type: ignore[name-defined]  # noqa: F821
        raise AssertionError("not loaded")

    DATASETS.register("toy_unresolved", Dataset(name="toy_unresolved", description="x", load=load, needs_root=False))
    try:
        options = parse_data_roots(["toy_unresolved.strict=yes", "toy_unresolved.root2=2024"]).options
        assert options["toy_unresolved"] == {"strict": True, "root2": "2024"}
        with pytest.raises(XrayBenchError, match=r"option 'strict' expects bool, got 'maybe'"):
            parse_data_roots(["toy_unresolved.strict=maybe"])
    finally:
        DATASETS.unregister("toy_unresolved")
