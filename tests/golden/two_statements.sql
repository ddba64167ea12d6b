-- A migration a reviewer should stop: a rename, then a safe add.
SET lock_timeout = '1s';

ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE users
    ADD COLUMN nickname text;
