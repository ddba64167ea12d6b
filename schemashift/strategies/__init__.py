"""One strategy per breaking change kind: how a change becomes expand/contract steps."""
