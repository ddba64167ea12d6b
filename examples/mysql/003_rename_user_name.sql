-- 003_rename_user_name.sql  (MariaDB 10.6+)
-- SHOP-118: same rename as the PostgreSQL side: users.name becomes full_name
-- for API v3. CHANGE COLUMN renames in place, but the v2 app still queries
-- `name` and breaks the moment this commits.

SET SESSION lock_wait_timeout = 5;

ALTER TABLE users CHANGE COLUMN name full_name VARCHAR(255) NOT NULL;
