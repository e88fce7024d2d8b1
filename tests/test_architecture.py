"""The layering of DESIGN.md, guarded: import-linter's contracts (`.importlinter`) and the CLI's lazy imports.

Each contract is its own test and fails with import-linter's report, which names the importing module, the line
and the chain (for an indirect import), e.g. `xraybench.metrics.grounding -> xraybench.prompts (l.110)`.
"""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
CONTRACT_PREFIX = "importlinter:contract:"


def _contract_ids() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    return [section[len(CONTRACT_PREFIX) :] for section in parser.sections() if section.startswith(CONTRACT_PREFIX)]


def test_the_config_names_every_layering_rule() -> None:
    # a contract dropped from the file would make its test vanish silently: pin the set
    assert set(_contract_ids()) == {
        "core-not-arena-trainer",
        "core-not-cli",
        "arena-trainer-independent",
        "library-not-cli",
        "adapters-metrics-independent",
    }


def _lint(contract: str, root: Path) -> tuple[bool, str]:
    """Run import-linter's one `contract` on the packages under `root`: (kept, the broken contract's report)."""
    pytest.importorskip("importlinter", reason="import-linter (the 'dev' extra) is not installed")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--no-cache",
            "--contract",
            contract,
            str(root / CONFIG.name),
        ],
        cwd=root,  # `python -c` puts the working folder first on sys.path: the packages under `root` are analysed
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = out.stdout + out.stderr
    if "Contracts: 1 kept, 0 broken." in report:
        return True, ""
    broken = report.split("Broken contracts", 1)[-1].strip("-\n ")
    return False, broken or report


@pytest.mark.parametrize("contract", _contract_ids())
def test_import_contract_is_kept(contract: str) -> None:
    kept, report = _lint(contract, ROOT)
    if not kept:
        pytest.fail(f"import contract {contract!r} is broken (see .importlinter):\n{report}", pytrace=False)


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or (Path(folder, n).is_file() and not n.endswith(".py"))]


@pytest.mark.parametrize(
    ("contract", "module", "line", "expected"),
    [
        (
            "core-not-arena-trainer",
            "xraybench/records.py",
            "import arena.ratings",
            "xraybench.records -> arena.ratings",
        ),
        ("core-not-cli", "xraybench/metrics/bleu.py", "from xraybench.cli import main", "xraybench.metrics.bleu"),
        ("arena-trainer-independent", "medix_train/rewards.py", "import arena.ratings", "medix_train.rewards"),
        ("library-not-cli", "arena/ratings.py", "import xraybench.cli", "arena.ratings -> xraybench.cli"),
        # library logic in a CLI module, reached from the arena's library (the drift of arena/demo.py)
        (
            "library-not-cli",
            "arena/leaderboard.py",
            "from arena.cli import add_parser",
            "arena.leaderboard -> arena.cli",
        ),
        ("library-not-cli", "medix_train/train.py", "import medix_train.cli", "medix_train.train -> medix_train.cli"),
        (
            "adapters-metrics-independent",
            "xraybench/models/base.py",
            "import xraybench.metrics.vqa",
            "xraybench.models",
        ),
    ],
)
def test_a_planted_import_breaks_its_contract(
    tmp_path: Path, contract: str, module: str, line: str, expected: str
) -> None:
    # the contracts select modules by wildcard, and import-linter skips a source that contains a forbidden module:
    # prove on a copy of the packages that each contract sees a violation (and so can fail)
    for package in ("xraybench", "arena", "medix_train"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_not_python)
    shutil.copy(CONFIG, tmp_path / CONFIG.name)
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    kept, report = _lint(contract, tmp_path)
    assert not kept and expected in report, report


def test_the_cli_and_the_package_root_import_arena_and_the_trainer_lazily() -> None:
    # `xraybench/__init__.py` is outside the contracts' `xraybench.*`, and `xraybench.cli` may import arena and
    # medix_train only inside a sub-command: importing either loads neither package nor (for the root) the CLI
    code = (
        "import sys, xraybench\n"
        "root = sorted(m for m in sys.modules if m.split('.')[0] in ('arena', 'medix_train')"
        " or m.startswith('xraybench.cli'))\n"
        "import xraybench.cli\n"
        "cli = sorted(m for m in sys.modules if m.split('.')[0] in ('arena', 'medix_train'))\n"
        "print(root, cli)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []", f"loaded at import: {out.stdout.strip()} (import xraybench, xraybench.cli)"


# the one engine: litellm is imported in one module, which sets its offline price map first and maps its errors by
# the one classification; every other module reaches it through `xraybench.llm.litellm_transport.import_litellm`
LITELLM_HOME = "xraybench/llm/litellm_transport.py"


def _litellm_imports(path: Path) -> list[int]:
    """Lines of `path` that import litellm: `import litellm[.x]`, `from litellm[.x] import`, or a dynamic import
    (`importlib.import_module("litellm")`, `require("litellm", ...)`, `__import__("litellm")`)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            names = [str(node.args[0].value)] if called in ("import_module", "require", "__import__") else []
        else:
            continue
        if any(name == "litellm" or name.startswith("litellm.") for name in names):
            lines.append(node.lineno)
    return lines


def test_litellm_is_imported_in_one_module() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for package in ("xraybench", "arena", "medix_train")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := _litellm_imports(path))
    }
    assert LITELLM_HOME in found, f"{LITELLM_HOME} no longer imports litellm: update LITELLM_HOME"
    others = {path: lines for path, lines in found.items() if path != LITELLM_HOME}
    assert not others, (
        "litellm imported outside the engine's transport (use xraybench.llm.litellm_transport.import_litellm): "
        + ", ".join(f"{path}:{','.join(map(str, lines))}" for path, lines in others.items())
    )
