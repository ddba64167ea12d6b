-- 006_product_status.sql
-- SHOP-131: products can be archived instead of deleted. Every existing
-- product is active; the column must be mandatory once filled in.

ALTER TABLE products ADD COLUMN status text;

-- Backfill in one statement: touches every row of products in a single
-- transaction and holds row locks on all of them until it commits.
UPDATE products SET status = 'active';

-- ACCESS EXCLUSIVE plus a full scan of products to check for NULLs.
ALTER TABLE products ALTER COLUMN status SET NOT NULL;
