"""The README is a front door (at most 200 lines) whose links, images and commands all lead somewhere real.

Fast and data-free: reads README.md and docs/*.md and the CLI's parser, nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
# Issue 17: the depth the README links into.
REQUIRED_DOCS = ("protocol", "models", "statistics", "results", "performance", "plugins", "cluster")
SCREENSHOTS = ("docs/img/overview.png", "docs/img/metrics.png", "docs/img/compare-users.png")

MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
# `python -m explorer [-q|--quiet] COMMAND`, where COMMAND is a word (an ellipsis or a placeholder is no command)
INVOCATION = re.compile(r"python -m explorer(?:\s+(?:-q|--quiet))?\s+([A-Za-z][\w-]*)")


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code, where links are links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    text = prose(path.read_text(encoding="utf-8"))
    return MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)


def local(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) and not target.startswith("//")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(heading) for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8")))}


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move depth into docs/"


@pytest.mark.parametrize("name", REQUIRED_DOCS)
def test_each_doc_named_by_issue_17_exists_and_the_readme_links_it(name):
    path = ROOT / "docs" / f"{name}.md"
    assert path.is_file(), f"docs/{name}.md is missing"
    assert f"docs/{name}.md" in {target.split("#")[0] for target in links(README)}, f"README.md never links {name}.md"


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_image_points_at_an_existing_file_and_heading(page):
    broken = []
    for target in links(page):
        if not local(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_shows_the_three_screenshots_and_they_exist():
    shown = set(links(README))
    for image in SCREENSHOTS:
        assert image in shown, f"README.md does not show {image}"
        assert (ROOT / image).is_file(), f"{image} is missing: make it with benchmarks/screenshots.py"


def test_every_command_the_readme_names_is_a_real_command():
    text = README.read_text(encoding="utf-8")
    named = set(INVOCATION.findall(text))
    assert named, "README.md names no `python -m explorer` command"
    unknown = named - set(COMMANDS)
    assert not unknown, f"README.md names commands that do not exist: {sorted(unknown)}"


def test_the_quick_reference_covers_every_command_and_each_call_parses():
    text = README.read_text(encoding="utf-8")
    calls = re.findall(r"`python -m explorer ([^`]*)`", text)
    assert set(COMMANDS) <= {call.split()[0] for call in calls}, "the quick reference misses a command"
    parser = build_parser()
    for call in calls:
        if "…" in call:
            continue
        try:
            parser.parse_args(call.split())
        except SystemExit:
            pytest.fail(f"`python -m explorer {call}` does not parse")
