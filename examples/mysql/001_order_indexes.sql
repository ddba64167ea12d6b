-- 001_order_indexes.sql  (MariaDB 10.6+)
-- SHOP-88: the order history page filters by customer and sorts by date.
-- Secondary index builds are online in InnoDB: ask for it explicitly so the
-- statement fails instead of silently falling back to a blocking table copy.

SET SESSION lock_wait_timeout = 5;

ALTER TABLE orders
    ADD INDEX idx_orders_user_created (user_id, created_at),
    ALGORITHM=INPLACE, LOCK=NONE;

-- Nullable column at the end of the table: no rebuild needed.
ALTER TABLE users ADD COLUMN tier VARCHAR(16) NULL, ALGORITHM=INPLACE, LOCK=NONE;
