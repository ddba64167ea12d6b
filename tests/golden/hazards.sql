CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(255) NOT NULL);
CREATE INDEX accounts_email_idx ON accounts (email);
CREATE INDEX orders_created_idx ON orders (created_at);
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_account_fk;
-- schemashift: ignore SS103 column unused since v2 (TICKET-1)
ALTER TABLE orders DROP COLUMN legacy;
DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$;
ALTER TABLE orders FROBNICATE everything;
