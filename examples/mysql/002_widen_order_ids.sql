-- 002_widen_order_ids.sql  (MariaDB 10.6+)
-- SHOP-121: orders.id passed 1.5 billion; move it and the referencing
-- column to BIGINT before the INT range runs out.
-- (Reviewer: a column type change is ALGORITHM=COPY in InnoDB, so writes to
-- orders and order_items are blocked for the whole copy.)

SET SESSION lock_wait_timeout = 5;

ALTER TABLE orders MODIFY id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT;

ALTER TABLE order_items MODIFY order_id BIGINT UNSIGNED NOT NULL;
