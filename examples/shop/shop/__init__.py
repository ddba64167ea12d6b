"""The shop example: SQLAlchemy models of a small online shop, migrated with Alembic.

``shop.models`` describes the schema at the head revision of ``migrations/versions``.
"""
