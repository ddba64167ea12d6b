"""schemashift-naming: a rule pack of naming conventions (NM101, NM102, NM103).

schemashift finds the rule modules of this package by their names (``nm101_<name>.py``,
each defining ``RULE``); the pages are ``pages/NMxxx.md``. ``DOCS_URL`` is where a rule's
page is on the web (SARIF's helpUri; ``{id}`` is replaced by the rule id).
"""

DOCS_URL = (
    "https://github.com/schemashift/schemashift/blob/main/plugins/schemashift-naming/"
    "src/schemashift_naming/pages/{id}.md"
)
