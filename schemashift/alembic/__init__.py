"""The Alembic integration: history reader, init, and the autogenerate hook."""
