"""mkdocs hook: render ```python no-run blocks as Python.

The tour marks snippets that must not be executed by tests/test_docs.py (multi-process or
long runs) as ```python no-run. Python-Markdown's fenced code accepts only a language after
the fence, so the marker is dropped before the page is rendered.
"""
import re

_NO_RUN = re.compile(r"^(\s*)(`{3,}|~{3,})python no-run[ \t]*$", re.MULTILINE)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return _NO_RUN.sub(r"\1\2python", markdown)
