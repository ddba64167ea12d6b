"""SQL text the core generates: identifiers as parts, quoting per dialect, run-time
references, PL/pgSQL bodies. Pure string building: no database, no I/O."""
