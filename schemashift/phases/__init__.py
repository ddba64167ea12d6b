"""Phases: plans made of expand / backfill / verify / contract steps."""
