-- 007_product_sku.sql
-- SHOP-137: the warehouse integration identifies products by SKU, and
-- orders.product_id should finally be enforced.

SET lock_timeout = '2s';

-- Fails on a non-empty products table (existing rows would be NULL), and the
-- old app's INSERT INTO products (...) does not supply sku.
ALTER TABLE products ADD COLUMN sku text NOT NULL;

-- Validating FK: SHARE ROW EXCLUSIVE on orders and products while every
-- existing order is checked.
ALTER TABLE orders
    ADD CONSTRAINT orders_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES products (id);
