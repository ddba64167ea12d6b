-- 003_orders_user_fk.sql
-- SHOP-104: orders.user_id never had a foreign key, and the support team found
-- orders pointing at deleted customers. Add the FK without blocking checkout.
--
-- Run with psql in autocommit mode (no BEGIN/COMMIT): CREATE INDEX CONCURRENTLY
-- cannot run inside a transaction block, and the VALIDATE must not share a
-- transaction with the NOT VALID add.

SET lock_timeout = '2s';

-- Index the referencing column first so the validation scan and later
-- ON DELETE checks do not seq-scan orders. CONCURRENTLY only takes
-- SHARE UPDATE EXCLUSIVE, so inserts keep flowing during the build.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);

-- NOT VALID: only new and updated rows are checked; the lock is brief.
ALTER TABLE orders
    ADD CONSTRAINT orders_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id)
    NOT VALID;

-- Checks the existing rows under SHARE UPDATE EXCLUSIVE (reads and writes continue).
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;
