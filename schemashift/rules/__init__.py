"""The lint rules: one module per rule (ssNNN_name.py), discovered by registry.py."""
