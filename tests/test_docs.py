"""The tour under docs/ stays true: its snippets run, its links and code references resolve.

Rules the pages follow (each checked here):
- every ```python block runs; a page's blocks run in order in one fresh namespace, like a
  notebook. ```python no-run (or any other language) is shown but not run.
- a ```text block right after a ```python block is that block's expected stdout; `...`
  in it matches any text (addresses, timings).
- relative links between pages resolve; every `ember/...` path in backticks exists.
- a backticked name right after a backticked path (`ember/nn/modules/module.py`,
  `Module.__setattr__`), and any dotted names listed after it, are defined in that file:
  the first part as a class, function or assignment, every later part as a word of it.
- mkdocs.yml's nav lists exactly the pages under docs/, and `mkdocs build --strict` passes.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import ember

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`]*?)\s*$")


@dataclass
class Block:
    info: str   # what follows the opening fence: "python", "python no-run", "text", ...
    code: str
    line: int   # 1-based line of the opening fence
    end: int    # 1-based line of the closing fence


def _split(text: str) -> tuple[list[Block], str]:
    """The page's fenced blocks, and its prose with the blocks blanked out."""
    blocks, prose = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            prose.append(lines[i])
            i += 1
            continue
        fence, start = m.group(1), i
        body = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence))
            and set(lines[i].strip()) == {fence[0]}
        ):
            body.append(lines[i])
            i += 1
        blocks.append(Block(m.group(2), "\n".join(body) + "\n", start + 1, i + 1))
        prose.extend([""] * (i - start + 1))
        i += 1
    return blocks, "\n".join(prose)


def _read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def _expected(text: str, stdout: str) -> bool:
    """stdout matches the shown output, `...` standing for any text."""
    norm = lambda s: "\n".join(line.rstrip() for line in s.strip().splitlines())  # noqa: E731
    pattern = ".*?".join(re.escape(part) for part in norm(text).split("..."))
    return re.fullmatch(pattern, norm(stdout), re.DOTALL) is not None


@pytest.fixture
def _isolated(tmp_path, monkeypatch):
    """Snippets run in a scratch directory and leave ember's global modes as they found them."""
    monkeypatch.chdir(tmp_path)
    dtype = ember.get_default_dtype()
    grad = ember.is_grad_enabled()
    yield
    ember.set_default_dtype(dtype)
    ember.set_grad_enabled(grad)


@pytest.mark.usefixtures("_isolated")
@pytest.mark.parametrize("page", PAGES)
def test_snippets_run(page):
    blocks, _ = _split(_read(page))
    namespace = {"__name__": "__main__"}
    for k, block in enumerate(blocks):
        if block.info != "python":
            continue
        where = f"docs/{page}:{block.line}"
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block.code, where, "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"the ```python block at {where} failed: {e!r}") from e
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        between = _read(page).splitlines()[block.end:nxt.line - 1] if nxt else []
        if nxt and nxt.info == "text" and not any(s.strip() for s in between):
            assert _expected(nxt.code, out.getvalue()), (
                f"the output of the block at {where} differs from the text block at line "
                f"{nxt.line}:\n--- shown\n{nxt.code}--- printed\n{out.getvalue()}"
            )


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page):
    _, prose = _split(_read(page))
    prose = re.sub(r"`[^`\n]*`", "", prose)
    for target in _LINK.findall(prose):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (DOCS / page).parent / target.split("#")[0]
        assert path.exists(), f"docs/{page}: link to {target} does not resolve"


_PATH = re.compile(r"`(ember/[\w/.]*)`")
_NAME_AFTER = re.compile(r"[\s,(:]*(?:and\s+)?`([A-Za-z_]\w*(?:\.\w+)*)(?:\(\))?`")


def _defined(name: str, text: str) -> bool:
    first, *rest = name.split(".")
    head = rf"^\s*(?:(?:async\s+)?def|class)\s+{re.escape(first)}\b|^\s*{re.escape(first)}\s*[:=]"
    return re.search(head, text, re.MULTILINE) is not None and all(
        re.search(rf"\b{re.escape(part)}\b", text) for part in rest
    )


@pytest.mark.parametrize("page", PAGES)
def test_code_references_exist(page):
    _, prose = _split(_read(page))
    prose = " ".join(prose.split())  # a reference may wrap across lines
    for m in _PATH.finditer(prose):
        rel = m.group(1)
        path = ROOT / rel
        assert path.exists(), f"docs/{page}: `{rel}` does not exist"
        if not rel.endswith(".py"):
            continue
        text = path.read_text(encoding="utf-8")
        pos, first = m.end(), True
        # The name right after the path, then any dotted names listed after it
        # (`Module.state_dict`, `Module.load_state_dict`); a plain word further along a
        # list is more likely the next item of an enumeration than a name in this file.
        while (n := _NAME_AFTER.match(prose, pos)) is not None and (first or "." in n.group(1)):
            assert _defined(n.group(1), text), (
                f"docs/{page}: `{n.group(1)}` is not defined in `{rel}`")
            pos, first = n.end(), False


# Pages whose untagged ``` blocks are excerpts of ember's code (diagrams and formulas there
# are fenced as ```text).
EXCERPT_PAGES = ["tour/import.md", "tour/module.md", "tour/hooks.md", "tour/state_dict.md",
                 "tour/apply.md", "tour/norms.md", "tour/conv.md", "tour/autograd.md",
                 "tour/optimizers.md", "tour/schedulers.md", "tour/swa.md", "tour/data.md",
                 "tour/data_parallel.md", "tour/ddp.md"]


@pytest.fixture(scope="module")
def _code_lines() -> set[str]:
    return {line.strip() for path in (ROOT / "ember").rglob("*.py")
            for line in path.read_text(encoding="utf-8").splitlines()}


@pytest.mark.parametrize("page", EXCERPT_PAGES)
def test_excerpts_are_current(page, _code_lines):
    """Every line of a quoted excerpt still exists in ember's code (`...` elides lines)."""
    blocks, _ = _split(_read(page))
    for block in blocks:
        if block.info:
            continue
        for k, line in enumerate(block.code.splitlines()):
            text = line.strip()
            assert not text or text == "..." or text in _code_lines, (
                f"docs/{page}:{block.line + 1 + k}: the excerpt line {text!r} is no longer "
                "in ember's code")


def _nav_pages(nav) -> list[str]:
    out = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return out


def test_nav_lists_every_page():
    yaml = pytest.importorskip("yaml")

    class _Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold mkdocs' own tags (!ENV ...); they are irrelevant to the nav.
    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
    assert config["site_name"] == "ember"
    assert config["theme"]["name"] == "mkdocs"
    nav = _nav_pages(config["nav"])
    assert sorted(nav) == PAGES, f"nav {sorted(nav)} != pages {PAGES}"


def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f",
         str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "index.html").exists()
    # A fence Python-Markdown could not parse becomes a paragraph: "<p>```..." or, when
    # backticks pair up, "<p><code>python no-run" followed by the code's first line.
    broken = re.compile(r"<p>(`{3}|~{3}|<code>[\w-]+( [\w-]+)*\n)")
    for page in PAGES:
        html = tmp_path / "site" / (page[:-3] + "/index.html" if page != "index.md"
                                    else "index.html")
        assert not broken.search(html.read_text(encoding="utf-8")), (
            f"docs/{page}: a code fence was rendered as text")


def test_checks_catch_mistakes():
    """The parsing above finds what it must (a checker that finds nothing passes anything)."""
    page = (
        "See `ember/nn/modules/module.py`, `Module.__setattr__` and [x](tour/module.md).\n\n"
        "```python\nprint(1)\n```\n\n```text\n1\n```\n\n```python no-run\nboom\n```\n"
    )
    blocks, prose = _split(page)
    assert [b.info for b in blocks] == ["python", "text", "python no-run"]
    assert "print" not in prose and _LINK.findall(prose) == ["tour/module.md"]
    m = _PATH.search(prose)
    assert _NAME_AFTER.match(prose, m.end()).group(1) == "Module.__setattr__"
    text = (ROOT / "ember/nn/modules/module.py").read_text(encoding="utf-8")
    assert _defined("Module.__setattr__", text) and not _defined("Module.no_such_attr", text)
    assert not _defined("NoSuchClass", text)
    assert _expected("a ... c\n", "a bb c") and not _expected("a\n", "b\n")
