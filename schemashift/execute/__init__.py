"""Running plans on a live database: state tables, locks, retries, backfills."""
