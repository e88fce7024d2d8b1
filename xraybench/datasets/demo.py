"""The bundled demo suite: SYNTHETIC studies whose texts we wrote and whose images our code draws.

Nothing here is real patient data. Each study is a seeded combination of findings; its report,
VQA questions, label set, boxes and image are all derived from that combination, so models that
look at the image (the retrieval baseline, a trained model) can beat those that do not.
Images are drawn once into a cache folder (`XRAYBENCH_CACHE`, default `~/.cache/xraybench`).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.errors import XrayBenchError
from xraybench.records import Sample
from xraybench.tasks import CLASSIFICATION_METRICS, Task, report_tasks, vqa_task

DEMO_VERSION = "2"
IMAGE_SIZE = 256
SPLIT_SIZES = {"train": 48, "validation": 8, "test": 16}
SPLIT_SEEDS = {"train": 11, "validation": 23, "test": 37}


@dataclass(frozen=True)
class Finding:
    label: str  # NIH ChestX-ray14 label name
    findings: str
    impression: str
    box: tuple[int, int, int, int]  # in the IMAGE_SIZE pixel space
    side: str | None = None


FINDINGS: list[Finding] = [
    Finding("Cardiomegaly", "The cardiac silhouette is enlarged.", "Cardiomegaly.", (80, 120, 180, 200)),
    Finding(
        "Effusion",
        "There is a small right pleural effusion with blunting of the costophrenic angle.",
        "Small right pleural effusion.",
        (30, 180, 100, 230),
        "right",
    ),
    Finding(
        "Effusion",
        "There is a moderate left pleural effusion.",
        "Moderate left pleural effusion.",
        (156, 180, 226, 230),
        "left",
    ),
    Finding(
        "Pneumothorax",
        "There is a small right apical pneumothorax.",
        "Small right apical pneumothorax.",
        (35, 30, 95, 80),
        "right",
    ),
    Finding(
        "Nodule",
        "A 1.5 cm nodule is seen in the left upper lobe.",
        "Left upper lobe nodule, CT recommended.",
        (165, 70, 195, 100),
        "left",
    ),
    Finding(
        "Atelectasis",
        "Linear opacities at the right lung base are consistent with atelectasis.",
        "Right basilar atelectasis.",
        (40, 150, 110, 185),
        "right",
    ),
    Finding(
        "Consolidation",
        "There is focal consolidation in the left lower lobe.",
        "Left lower lobe consolidation, concerning for pneumonia.",
        (150, 140, 215, 190),
        "left",
    ),
    Finding(
        "Edema",
        "There is mild pulmonary vascular congestion and interstitial edema.",
        "Mild pulmonary edema.",
        (50, 60, 206, 200),
    ),
]
NORMAL_FINDINGS = {
    "Cardiomegaly": "The heart size is normal.",
    "Effusion": "There is no pleural effusion.",
    "Pneumothorax": "There is no pneumothorax.",
    "Consolidation": "The lungs are clear without focal consolidation.",
}
NORMAL_IMPRESSION = "No acute cardiopulmonary process."
LABELS = sorted({f.label for f in FINDINGS})
REPORT_PROMPTS = {
    "findings": "Write the FINDINGS section of the radiology report for this chest X-ray.",
    "impression": "Write the IMPRESSION section of the radiology report for this chest X-ray.",
}
CLASSIFICATION_PROMPT = (
    "Which of the following findings are present in this chest X-ray: "
    + ", ".join(LABELS)
    + "? Answer with the present findings separated by '|', or 'No Finding'."
)


@dataclass(frozen=True)
class Study:
    id: str
    split: str
    findings: tuple[Finding, ...]

    def findings_text(self) -> str:
        present = {f.label for f in self.findings}
        sentences = [f.findings for f in self.findings]
        sentences += [text for label, text in NORMAL_FINDINGS.items() if label not in present]
        return " ".join(sentences)

    def impression_text(self) -> str:
        if not self.findings:
            return NORMAL_IMPRESSION
        return " ".join(f.impression for f in self.findings)

    def labels(self) -> list[str]:
        return sorted({f.label for f in self.findings})


def studies(split: str) -> list[Study]:
    if split not in SPLIT_SIZES:
        raise XrayBenchError(f"demo has no split {split!r}; choose one of {', '.join(SPLIT_SIZES)}")
    rng = random.Random(SPLIT_SEEDS[split])
    out = []
    for i in range(SPLIT_SIZES[split]):
        n = rng.choices([0, 1, 2], weights=[4, 4, 2])[0]
        chosen: list[Finding] = []
        for finding in rng.sample(FINDINGS, len(FINDINGS)):
            if len(chosen) == n:
                break
            if all(c.label != finding.label for c in chosen):
                chosen.append(finding)
        out.append(Study(f"demo-{split}-{i:03d}", split, tuple(sorted(chosen, key=FINDINGS.index))))
    return out


def cache_dir() -> Path:
    base = Path(os.environ.get("XRAYBENCH_CACHE", Path.home() / ".cache" / "xraybench"))
    return base / f"demo-v{DEMO_VERSION}"


def draw_image(study: Study, path: Path) -> None:
    """A crude but deterministic radiograph: lungs, heart and a patch per finding, with per-study variation
    in position, exposure and noise so that nearest-neighbour retrieval is informative but not perfect."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(study.id)
    dx, dy = rng.randint(-12, 12), rng.randint(-12, 12)
    exposure = rng.randint(-25, 25)
    img = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 20 + max(exposure, 0) // 2)

    def shift(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)

    draw = ImageDraw.Draw(img)
    draw.ellipse(shift((25, 25, 120, 235)), fill=70 + exposure)  # right lung (image left)
    draw.ellipse(shift((136, 25, 231, 235)), fill=70 + exposure)
    heart = (80, 120, 180, 200) if any(f.label == "Cardiomegaly" for f in study.findings) else (95, 125, 170, 198)
    draw.ellipse(shift(heart), fill=150 + exposure)
    for finding in study.findings:
        if finding.label == "Cardiomegaly":
            continue
        box = shift(finding.box)
        contrast = rng.randint(-30, 10)
        if finding.label == "Pneumothorax":
            draw.rectangle(box, fill=max(0, 15 + exposure))
        elif finding.label == "Nodule":
            draw.ellipse(box, fill=180 + contrast)
        else:
            draw.rectangle(box, fill=(150 if finding.label != "Edema" else 100) + contrast + exposure)
    for _ in range(3000):  # film grain, per-study
        x, y = rng.randrange(IMAGE_SIZE), rng.randrange(IMAGE_SIZE)
        draw.point((x, y), fill=rng.randrange(0, 255))
    img = img.filter(ImageFilter.GaussianBlur(2.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    img.save(tmp)
    tmp.replace(path)


def image_path(study: Study, root: Path) -> Path:
    path = root / "images" / f"{study.id}.png"
    if not path.exists():
        draw_image(study, path)
    return path


def _vqa_samples(study: Study, task: str, image: str) -> list[Sample]:
    present = {f.label: f for f in study.findings}
    items: list[tuple[str, str, str, str]] = []  # (suffix, question, answer, answer_type/category)
    for label, question in [
        ("Effusion", "Is there a pleural effusion?"),
        ("Pneumothorax", "Is there a pneumothorax?"),
        ("Cardiomegaly", "Is the heart enlarged?"),
    ]:
        items.append((label.lower(), question, "yes" if label in present else "no", "closed:presence"))
    for label in ("Effusion", "Nodule", "Consolidation", "Atelectasis", "Pneumothorax"):
        finding = present.get(label)
        if finding is not None and finding.side:
            items.append(
                (f"side-{label.lower()}", f"Which side is the {label.lower()} on?", finding.side, "open:location")
            )
    abnormal = study.labels()
    items.append(
        (
            "abnormalities",
            "What abnormalities are seen in this image? List them separated by '|'.",
            "|".join(a.lower() for a in abnormal) if abnormal else "none",
            "open:abnormality",
        )
    )
    samples = []
    for suffix, question, answer, kind in items:
        answer_type, category = kind.split(":")
        samples.append(
            Sample(
                id=f"{study.id}-{suffix}",
                task=task,
                dataset="demo",
                split=study.split,
                prompt=question,
                reference=answer,
                image_paths=[image],
                metadata={"answer_type": answer_type, "category": category, "study_id": study.id, "synthetic": True},
            )
        )
    return samples


def load_demo(
    root: Path | None, *, task: str, split: str, section: str | None = None, part: str = "report", **_: Any
) -> LoadResult:
    """Build the demo task's samples; `root` defaults to the cache folder where images are drawn."""
    root = Path(root) if root else cache_dir()
    split = "validation" if split == "val" else split
    result = LoadResult([])
    for study in studies(split):
        image = str(image_path(study, root))
        meta: dict[str, Any] = {
            "study_id": study.id,
            "synthetic": True,
            "view": "PA",
            "image_size": [IMAGE_SIZE, IMAGE_SIZE],
        }
        if part == "report":
            if section not in REPORT_PROMPTS:
                raise XrayBenchError(f"demo report tasks need section findings|impression, got {section!r}")
            text = study.findings_text() if section == "findings" else study.impression_text()
            result.samples.append(
                Sample(
                    study.id,
                    task,
                    "demo",
                    split,
                    REPORT_PROMPTS[section],
                    text,
                    [image],
                    metadata={**meta, "section": section},
                )
            )
        elif part == "vqa":
            result.samples.extend(_vqa_samples(study, task, image))
        elif part == "classification":
            labels = study.labels()
            boxes = [[*f.box, f.label] for f in study.findings]
            result.samples.append(
                Sample(
                    study.id,
                    task,
                    "demo",
                    split,
                    CLASSIFICATION_PROMPT,
                    "|".join(labels) if labels else "No Finding",
                    [image],
                    metadata={**meta, "bboxes": boxes, "labels": labels},
                )
            )
        else:
            raise XrayBenchError(f"unknown demo part {part!r}; expected report, vqa or classification")
    return result


DATASET = Dataset(
    "demo",
    load_demo,
    "tiny bundled synthetic suite (texts and images made by us)",
    tasks=(
        *report_tasks("demo"),
        vqa_task("demo_vqa", "demo", "synthetic demo VQA", part="vqa"),
        Task(
            "demo_classification",
            "classification",
            "demo",
            "test",
            CLASSIFICATION_METRICS,
            {"part": "classification"},
            "synthetic demo finding classification with boxes",
            metric_options={"classification": {"labels": tuple(LABELS)}},
        ),
    ),
    needs_root=False,
)
