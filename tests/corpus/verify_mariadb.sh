# Re-check the MariaDB 10.11 verdicts of real_world.json (and, for information, the MySQL 8.0
# ones) on a local MariaDB reachable as the current user: every statement runs with
# ALGORITHM=INSTANT/NOCOPY/INPLACE and LOCK=NONE/SHARED appended; silence means accepted.
# Creates and drops the database cv_mdb.
set -u
M="mariadb --table"
$M -e "DROP DATABASE IF EXISTS cv_mdb; CREATE DATABASE cv_mdb;"
run() { echo "== $1"; $M cv_mdb -e "$2" 2>&1 | tail -3; }
# tables (from the projects' earlier migrations, simplified where irrelevant)
$M cv_mdb <<'SQL'
CREATE TABLE twofactor (uuid CHAR(36) NOT NULL PRIMARY KEY, user_uuid CHAR(36) NOT NULL, atype INTEGER NOT NULL, enabled BOOLEAN NOT NULL, data TEXT NOT NULL) ENGINE=InnoDB;
INSERT INTO twofactor VALUES (UUID(), UUID(), 1, 1, 'x'), (UUID(), UUID(), 2, 1, 'y');
CREATE TABLE ciphers (uuid CHAR(36) NOT NULL PRIMARY KEY, user_uuid CHAR(36), name TEXT NOT NULL, favorite BOOLEAN NOT NULL) ENGINE=InnoDB;
INSERT INTO ciphers VALUES (UUID(), UUID(), 'a', 1), (UUID(), UUID(), 'b', 0);
CREATE TABLE instance_account (id int AUTO_INCREMENT PRIMARY KEY, instance_id int, user varchar(128), host varchar(64), password varchar(128)) ENGINE=InnoDB;
INSERT INTO instance_account (instance_id, user, host) VALUES (1,'a','%'),(1,'b','%');
CREATE TABLE sql_instance (id int AUTO_INCREMENT PRIMARY KEY, instance_name varchar(50), db_type varchar(20)) ENGINE=InnoDB;
INSERT INTO sql_instance (instance_name, db_type) VALUES ('a','mysql');
CREATE TABLE ssh_tunnel (id int AUTO_INCREMENT PRIMARY KEY, host varchar(200), password varchar(300)) ENGINE=InnoDB;
INSERT INTO ssh_tunnel (host) VALUES ('h');
CREATE TABLE attachments (id CHAR(36) NOT NULL PRIMARY KEY, cipher_uuid CHAR(36) NOT NULL, file_name TEXT NOT NULL, file_size INTEGER NOT NULL, `key` TEXT) ENGINE=InnoDB;
INSERT INTO attachments VALUES (UUID(), UUID(), 'f', 1, NULL);
CREATE TABLE devices (uuid CHAR(36) NOT NULL PRIMARY KEY, user_uuid CHAR(36) NOT NULL, name TEXT NOT NULL) ENGINE=InnoDB;
INSERT INTO devices VALUES (UUID(), UUID(), 'd');
CREATE TABLE users (id int PRIMARY KEY, first_name varchar(50), last_name varchar(50), email_address varchar(100), address_zip varchar(10)) ENGINE=InnoDB;
INSERT INTO users VALUES (1,'a','b','c','d');
SQL
run "add column not null default (twofactor)" "ALTER TABLE twofactor ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0, ALGORITHM=INSTANT, LOCK=NONE"
run "drop column favorite" "ALTER TABLE ciphers DROP COLUMN favorite, ALGORITHM=INSTANT, LOCK=NONE"
run "archery add db_name after host" "alter table instance_account add db_name varchar(128) default '' not null comment 'x' after host, ALGORITHM=INSTANT, LOCK=NONE"
run "archery add is_ssl" "ALTER TABLE sql_instance ADD is_ssl tinyint(1) DEFAULT 0  COMMENT 'x', ALGORITHM=INSTANT, LOCK=NONE"
run "archery add pkey longtext after password" "ALTER TABLE \`ssh_tunnel\` ADD COLUMN pkey longtext NULL AFTER password, ALGORITHM=INSTANT, LOCK=NONE"
echo "--- 8.0-targeted statements, tried on MariaDB for information"
run "change key->akey INSTANT" "ALTER TABLE attachments CHANGE COLUMN \`key\` akey TEXT, ALGORITHM=INSTANT, LOCK=NONE"
run "modify int->bigint NOCOPY" "ALTER TABLE attachments MODIFY file_size BIGINT NOT NULL, ALGORITHM=NOCOPY"
run "modify int->bigint COPY LOCK=SHARED" "ALTER TABLE attachments MODIFY file_size BIGINT NOT NULL, ALGORITHM=COPY, LOCK=SHARED"
run "drop pk" "ALTER TABLE devices DROP PRIMARY KEY"
run "add pk INPLACE LOCK=NONE" "ALTER TABLE devices ADD PRIMARY KEY (uuid, user_uuid), ALGORITHM=INPLACE, LOCK=NONE"
run "add pk NOCOPY (expect error: rebuild needed)" "ALTER TABLE devices DROP PRIMARY KEY, ADD PRIMARY KEY (uuid), ALGORITHM=NOCOPY"
run "add indexes inplace" "ALTER TABLE users ADD INDEX i1 (first_name), ADD INDEX i2 (last_name), ALGORITHM = INPLACE, LOCK = NONE"
run "add indexes NOCOPY (no rebuild)" "ALTER TABLE users ADD INDEX i3 (email_address), ALGORITHM = NOCOPY, LOCK = NONE"
$M -e "DROP DATABASE cv_mdb"
