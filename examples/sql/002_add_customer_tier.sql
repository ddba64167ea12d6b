-- 002_add_customer_tier.sql
-- SHOP-97: loyalty programme. Customers get a tier ('standard', 'silver', 'gold').
-- The column is nullable and has no default, so on PostgreSQL 11+ this is a
-- metadata-only change, and the old app (which does not know the column) keeps working.

-- Give up quickly instead of queueing behind a long transaction and blocking
-- every query on users while we wait for the ACCESS EXCLUSIVE lock.
SET lock_timeout = '2s';

ALTER TABLE users ADD COLUMN tier text;

-- New rows get a tier from now on; existing rows are backfilled by a batched job.
ALTER TABLE users ALTER COLUMN tier SET DEFAULT 'standard';
