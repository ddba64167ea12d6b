"""Groups of action kinds several rules share."""

# Statements that change no schema: they take no DDL lock and commit nothing implicitly.
NOT_DDL = frozenset(
    {"set_option", "transaction", "select", "data_update", "data_delete", "data_insert",
     "comment", "grant", "raw"}
)  # fmt: skip
