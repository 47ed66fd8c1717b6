"""The README and docs/ stay true (host-free, runs in CI).

- every relative link and image in README.md and docs/*.md resolves: the file (or folder)
  exists, and a `#anchor` into a Markdown page names one of its headings, slugged as GitHub
  does (duplicates get -1, -2, ...), or an HTML id/name in it;
- every reference-style link has its definition;
- every sampler name the pages mention is one the project registers: ComfyUI names
  (`er_sde_solver_*`) from ersde_nodes/names.py, k-diffusion names (`sample_er_sde_solver_*`)
  from k_diffusion_ext.SAMPLER_FUNCTIONS and the ComfyUI registration, WebUI labels
  ("ER-SDE-Solver N", "ER-SDE-Solver N CFG++") from scripts/ersde_webui/glue.py;
- the README's node-inputs table lists the nodes' inputs (names.ER_SDE_INPUTS, in order), and
  its decision table names only registered samplers and known noise scales;
- the README keeps its two command markers with their commands (.ci/run reads the line two
  below `<!-- test-command -->`) and stays at most 12 KB;
- the results files name machines and versions, never a local path.
"""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GLUE_PATH = ROOT / "scripts" / "ersde_webui" / "glue.py"
RESULTS = ROOT / "bench" / "results"
README_MAX_BYTES = 12288

PAGES = [README] + sorted(DOCS.glob("*.md"))
PAGE_IDS = [str(p.relative_to(ROOT)) for p in PAGES]

COMMANDS = {
    "<!-- demo-command -->": 'pip install -e ".[demo]" && python demo.py',
    "<!-- test-command -->": 'pip install -e ".[test]" && python -m pytest',
}

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REF_USE = re.compile(r"\]\[([^\]]+)\]")
REF_DEF = re.compile(r"^\s{0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+[\"'(].*)?$")
HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.I)
HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)

# Sampler names as the pages write them.
COMFY_NAME = re.compile(r"(?<![\w-])(?:sample_)?er_sde_solver_\w+")
WEBUI_LABEL = re.compile(r"ER-SDE-Solver [0-9]+(?: CFG\+\+)?")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def without_code_spans(line: str) -> str:
    return CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)


def github_slug(heading: str) -> str:
    """GitHub's heading anchor: the rendered text, lower-cased, punctuation other than '-'
    and '_' dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)                          # inline HTML tags
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(page: Path) -> frozenset[str]:
    text = page.read_text(encoding="utf-8")
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            base = github_slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
        out.update(HTML_ANCHOR.findall(line))
    return frozenset(out)


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every inline link, image, reference definition and HTML src/href."""
    out = []
    for number, line in prose_lines(page.read_text(encoding="utf-8")):
        m = REF_DEF.match(line)
        if m:
            out.append((number, m.group(2)))
            continue
        plain = without_code_spans(line)
        out += [(number, t) for t in INLINE_LINK.findall(plain)]
        out += [(number, t) for t in HTML_LINK.findall(plain)]
    return out


def link_problem(page: Path, target: str) -> str | None:
    if not target:
        return "empty link target"
    if SCHEME.match(target) or target.startswith("//"):
        return None  # external: not checked here
    path_part, _, anchor = target.partition("#")
    dest = page if not path_part else (page.parent / path_part).resolve()
    try:
        dest.relative_to(ROOT)
    except ValueError:
        return f"{target}: points outside the repository"
    if not dest.exists():
        return f"{target}: {dest.relative_to(ROOT)} does not exist"
    if anchor and dest.suffix == ".md":
        if anchor not in anchors(dest):
            return f"{target}: no heading in {dest.relative_to(ROOT)} has the anchor #{anchor}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_relative_link_and_image_resolves(page):
    problems = [f"line {n}: {p}" for n, t in links(page) if (p := link_problem(page, t))]
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_reference_link_is_defined(page):
    lines = prose_lines(page.read_text(encoding="utf-8"))
    defined = {m.group(1).lower() for _, line in lines if (m := REF_DEF.match(line))}
    used = [(n, ref) for n, line in lines for ref in REF_USE.findall(without_code_spans(line))]
    missing = [f"line {n}: [{ref}]" for n, ref in used if ref.lower() not in defined]
    assert not missing, f"{page.relative_to(ROOT)}: reference links without a definition:\n" + "\n".join(missing)


def test_the_pages_exist():
    assert README.is_file()
    for name in ("solver", "noise", "guidance", "hosts", "library", "diffusers", "benchmarks", "development"):
        assert (DOCS / f"{name}.md").is_file(), f"docs/{name}.md is missing"


# ---------------------------------------------------------------- sampler names

@lru_cache(maxsize=None)
def glue():
    spec = importlib.util.spec_from_file_location("ersde_test_docs_glue", GLUE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=None)
def registered_comfy_names() -> frozenset[str]:
    """What ComfyUI's dropdowns and comfy.k_diffusion.sampling get (ersde_nodes.registration
    registers names.SAMPLER_NAMES and "sample_" + each), plus the library's register()."""
    from ersde_nodes import names
    from k_diffusion_ext import SAMPLER_FUNCTIONS
    return frozenset(names.SAMPLER_NAMES) | {f"sample_{n}" for n in names.SAMPLER_NAMES} | set(SAMPLER_FUNCTIONS)


@lru_cache(maxsize=None)
def registered_webui_labels() -> frozenset[str]:
    """Every label of every SamplerSpec tuple in the WebUI glue (SAMPLERS, CFG_PP_SAMPLERS, ...)."""
    module = glue()
    labels = set()
    for value in vars(module).values():
        if isinstance(value, (tuple, list)) and value and all(isinstance(v, module.SamplerSpec) for v in value):
            labels |= {spec.label for spec in value}
    return frozenset(labels)


def test_the_registered_lists_are_not_empty():
    assert {"er_sde_solver_1", "er_sde_solver_3_cfg_pp", "sample_er_sde_solver_2"} <= registered_comfy_names()
    assert {"ER-SDE-Solver 1", "ER-SDE-Solver 3 CFG++"} <= registered_webui_labels()


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_sampler_name_mentioned_is_registered(page):
    text = page.read_text(encoding="utf-8")
    comfy = set(COMFY_NAME.findall(text)) - registered_comfy_names()
    webui = set(WEBUI_LABEL.findall(text)) - registered_webui_labels()
    assert not comfy, f"{page.relative_to(ROOT)} names ComfyUI / k-diffusion samplers nobody registers: {sorted(comfy)}"
    assert not webui, f"{page.relative_to(ROOT)} names WebUI samplers nobody registers: {sorted(webui)}"


def readme_section(title: str, page: Path = README) -> str:
    text = page.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"{page.name} has no '## {title}' section"
    return m.group(1)


def table_rows(section: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.strip().startswith("|")]
    return [r for r in rows[2:]]  # without the head and the |---| line


def test_readme_node_inputs_table_lists_the_nodes_inputs_in_order():
    from ersde_nodes import names
    listed = [row[0].strip("`") for row in table_rows(readme_section("Node inputs"))]
    assert listed == list(names.ER_SDE_INPUTS)


def test_readme_recommends_the_auto_name_of_every_host():
    from ersde_nodes import names
    advice = " ".join(readme_section("Which sampler, which settings").split())  # lines joined: labels may wrap
    assert f"`{names.AUTO_SAMPLER_NAME}`" in advice, "the advice does not name the ComfyUI auto name"
    for label in glue().AUTO_LABELS:
        assert f'"{label}"' in advice, f"the advice does not name the WebUI label {label!r}"


def test_fixed_settings_table_names_registered_samplers_and_known_noise_scales():
    from k_diffusion_ext import NOISE_SCALES, SCHEMES
    rows = table_rows(readme_section("Which fixed setting, which cfg and steps", ROOT / "docs" / "benchmarks.md"))
    assert len(rows) >= 6, "the decision table has lost rows"
    for row in rows:
        for cell in row[2:]:
            tokens = re.findall(r"`([^`]+)`", cell)
            assert tokens, f"a decision cell names no sampler: {cell!r}"
            assert tokens[0] in registered_comfy_names(), f"not a registered sampler: {tokens[0]!r} in {cell!r}"
            unknown = [t for t in tokens[1:]
                       if t not in NOISE_SCALES and t not in SCHEMES and t not in registered_comfy_names()]
            assert not unknown, f"not a noise scale, scheme or sampler: {unknown} in {cell!r}"
            assert re.search(r"\]\[[^\]]+\]|\]\([^)]+\)", cell), f"a decision cell without its evidence link: {cell!r}"


# ---------------------------------------------------------------- README commands and size

@pytest.mark.parametrize("marker", sorted(COMMANDS))
def test_readme_command_markers_carry_their_commands(marker):
    lines = README.read_text(encoding="utf-8").splitlines()
    at = [i for i, line in enumerate(lines) if line.strip() == marker]
    assert len(at) == 1, f"README.md must have the marker {marker} exactly once"
    i = at[0]
    assert lines[i + 1].strip().startswith("```"), f"the line after {marker} must open a code fence"
    assert lines[i + 2] == COMMANDS[marker], f"the line two after {marker} must be the command"
    assert lines[i + 3].strip() == "```", f"the command after {marker} must be alone in its fence"


@pytest.mark.parametrize("page", PAGES + [ROOT / "CHANGELOG.md"], ids=PAGE_IDS + ["CHANGELOG.md"])
def test_pages_name_no_tracker_issue(page):
    """A reader cannot look up "issue 21": pages say what a change did, not which ticket asked for it."""
    found = [f"line {n}: {line.strip()}" for n, line in enumerate(page.read_text(encoding="utf8").splitlines(), 1)
             if re.search(r"\bissues? \d+", line, re.IGNORECASE)]
    assert not found, f"{page.relative_to(ROOT)} names tracker issues:\n" + "\n".join(found)


def test_readme_is_at_most_12_kb():
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; at most {README_MAX_BYTES}: move detail into docs/"


# ---------------------------------------------------------------- results files

LOCAL_PATH = re.compile(r"(?:^|[\s'\"`(=])(?:/tmp/|/work/|/root/|/home/|/Users/|[A-Za-z]:\\\\?Users)|\.ci/work")


@pytest.mark.parametrize("path", sorted(RESULTS.rglob("*.md")) + sorted(RESULTS.rglob("*.json")),
                         ids=lambda p: str(p.relative_to(RESULTS)))
def test_results_files_record_no_local_path(path):
    hits = [f"line {n}: {line.strip()[:120]}" for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if LOCAL_PATH.search(line)]
    assert not hits, f"{path.relative_to(ROOT)} records a local path (name versions, not folders):\n" + "\n".join(hits)
