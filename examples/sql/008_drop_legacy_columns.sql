-- 008_drop_legacy_columns.sql
-- SHOP-142: remove the MD5 password hashes left over from the PHP storefront.
-- Login moved to SSO in v2.1; no app version still deployed reads or writes
-- this column (checked against the deployment registry before merging).

SET lock_timeout = '2s';

-- schemashift: ignore SS103 column unused since v2.1 (ticket SHOP-142)
ALTER TABLE users DROP COLUMN legacy_password_md5;

-- SHOP-140: product descriptions now live in the CMS (app v3).
-- The v2 product page still selects products.description.
ALTER TABLE products DROP COLUMN description;
