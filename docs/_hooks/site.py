"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks:``).

- The rule pages live in the package (``schemashift/rules/pages/``, so ``schemashift
  explain`` reads them after ``pip install``); they are added to the site as
  ``rules/SSxxx.md`` and to the nav under Rules.
- Links from a page to a file outside ``docs/`` (the Kubernetes recipes, benchmarks, the
  rule pages' package path) are checked against the repository and pointed at the
  repository's web view; a link to a file that does not exist is a warning, which fails
  the strict build.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.site")
ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "schemashift" / "rules" / "pages"
_LINK = re.compile(r"\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")


def _rule_pages() -> list[Path]:
    return sorted(PAGES.glob("*.md"))


def on_config(config: Any) -> Any:
    for section in config["nav"]:
        if isinstance(section, dict) and "Rules" in section:
            section["Rules"] += [{p.stem: f"rules/{p.name}"} for p in _rule_pages()]
    return config


def on_files(files: Files, config: Any) -> Files:
    for page in _rule_pages():
        files.append(File.generated(config, f"rules/{page.name}", content=page.read_text()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    src = page.file.src_uri
    here = posixpath.dirname(src)
    repo = config["repo_url"].rstrip("/")

    def fix(m: re.Match[str]) -> str:
        target, anchor = m.group("target"), m.group("anchor") or ""
        if "://" in target or target.startswith("mailto:"):
            return m.group(0)
        docs_rel = posixpath.normpath(posixpath.join("docs", here, target))
        if docs_rel.startswith("docs/"):
            return m.group(0)  # inside docs/: MkDocs validates it
        if docs_rel.startswith("schemashift/rules/pages/") and docs_rel.endswith(".md"):
            name = posixpath.basename(docs_rel)
            return f"]({posixpath.relpath(f'rules/{name}', here or '.')}{anchor})"
        path = ROOT / docs_rel
        if not path.exists():
            log.warning("%s: link to %s: no such file in the repository", src, target)
            return m.group(0)
        kind = "tree" if path.is_dir() else "blob"
        return f"]({repo}/{kind}/main/{docs_rel}{anchor})"

    # The rule pages link to each other by file name and to docs/ pages by their
    # repository path (schemashift/rules/pages/ → ../../../docs/…); as site pages they sit
    # in docs/rules/, so those links are rewritten first.
    if src.startswith("rules/") and src != "rules/README.md":
        markdown = markdown.replace("](../../../docs/", "](../")
    return _LINK.sub(fix, markdown)
