"""Instructions are Markdown; no raw HTML or script survives rendering."""

import re

import pytest

from apps.projects.instructions import render_instructions


def test_markdown_renders():
    html = render_instructions("# Guide\n\nLabel **every** quokka.\n\n- one\n- two\n\n[docs](https://example.org)")
    assert "<h1>Guide</h1>" in html and "<strong>every</strong>" in html and "<li>one</li>" in html
    assert 'href="https://example.org"' in html and "noopener" in html


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ],
)
def test_no_script_or_raw_html_survives(markdown):
    html = render_instructions(markdown).lower()
    tags = re.findall(r"<[a-z][^>]*>", html)  # real tags only; escaped text is &lt;…&gt;
    assert all(not tag.startswith(("<script", "<iframe")) for tag in tags), tags
    assert all(not re.search(r"\son\w+\s*=", tag) for tag in tags), tags
    assert all("javascript:" not in tag and "data:" not in tag for tag in tags), tags
