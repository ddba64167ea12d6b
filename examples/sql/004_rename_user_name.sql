-- 004_rename_user_name.sql
-- SHOP-118: "name" is ambiguous next to the new display_name in the profile
-- service; the API v3 calls it full_name everywhere, so rename the column.
-- (Reviewer: the v2 app still selects users.name and will fail as soon as
-- this runs, while v2 and v3 are both live during the rollout.)

ALTER TABLE users RENAME COLUMN name TO full_name;
