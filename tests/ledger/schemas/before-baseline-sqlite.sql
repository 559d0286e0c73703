-- The SQLite schema that revisions 0001 to 0011 made, before the 0.1.0 baseline
-- replaced them (ADR 0050): the statements in sqlite_master of a database migrated by shanlian at
-- commit 5fa3543. tests/ledger/test_migrations.py opens a database made from it.
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE allocation (
	allocation_id VARCHAR(43) NOT NULL, 
	donation_id VARCHAR(43) NOT NULL, 
	disbursement_id VARCHAR(43) NOT NULL, 
	amount BIGINT NOT NULL, 
	seq BIGINT NOT NULL, 
	reversed BOOLEAN NOT NULL, 
	CONSTRAINT pk_allocation PRIMARY KEY (allocation_id)
);
CREATE TABLE api_key (
	key_hash BLOB NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	charity_id VARCHAR(43), 
	label VARCHAR(200) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	CONSTRAINT pk_api_key PRIMARY KEY (key_hash)
);
CREATE TABLE charity (
	charity_id VARCHAR(43) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	registration_no VARCHAR(64) NOT NULL, 
	signer VARCHAR(42), 
	seq BIGINT NOT NULL, signer_seq BIGINT, 
	CONSTRAINT pk_charity PRIMARY KEY (charity_id)
);
CREATE TABLE charity_registration (
	registration_key VARCHAR(64) NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	CONSTRAINT pk_charity_registration PRIMARY KEY (registration_key)
);
CREATE TABLE checkpoint (
	checkpoint_index BIGINT NOT NULL, 
	tree_size BIGINT NOT NULL, 
	root_hash BLOB NOT NULL, 
	chain_id BIGINT NOT NULL, 
	contract VARCHAR(42) NOT NULL, 
	tx_hash BLOB NOT NULL, 
	block_number BIGINT NOT NULL, 
	block_hash BLOB NOT NULL, 
	anchored_at DATETIME NOT NULL, 
	confirmed BOOLEAN NOT NULL, 
	CONSTRAINT pk_checkpoint PRIMARY KEY (checkpoint_index), 
	CONSTRAINT uq_checkpoint_tree_size UNIQUE (tree_size)
);
CREATE TABLE disbursement (
	disbursement_id VARCHAR(43) NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	project_id VARCHAR(43), 
	amount BIGINT NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	payee VARCHAR(200) NOT NULL, 
	purpose VARCHAR(500) NOT NULL, 
	seq BIGINT NOT NULL, 
	allocated BIGINT NOT NULL, 
	voided BOOLEAN NOT NULL, 
	CONSTRAINT pk_disbursement PRIMARY KEY (disbursement_id)
);
CREATE TABLE donation (
	donation_id VARCHAR(43) NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	project_id VARCHAR(43), 
	amount BIGINT NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	paid_at VARCHAR(24) NOT NULL, 
	seq BIGINT NOT NULL, 
	refunded BIGINT NOT NULL, 
	allocated BIGINT NOT NULL, 
	CONSTRAINT pk_donation PRIMARY KEY (donation_id)
);
CREATE TABLE donor (
	donation_id VARCHAR(43) NOT NULL, 
	receipt_secret BLOB NOT NULL, 
	name VARCHAR(200), 
	phone VARCHAR(40), 
	email VARCHAR(254), 
	anonymous BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_donor PRIMARY KEY (donation_id)
);
CREATE TABLE entry (
	seq BIGINT NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	actor VARCHAR(60) NOT NULL, 
	at DATETIME NOT NULL, 
	leaf TEXT NOT NULL, 
	leaf_hash BLOB NOT NULL, 
	CONSTRAINT pk_entry PRIMARY KEY (seq)
);
CREATE TABLE entry_ref (
	ref_id VARCHAR(43) NOT NULL, 
	seq BIGINT NOT NULL, 
	CONSTRAINT pk_entry_ref PRIMARY KEY (ref_id, seq)
);
CREATE TABLE evidence_file (
	sha256 BLOB NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	media_type VARCHAR(127) NOT NULL, 
	size BIGINT NOT NULL, 
	filename VARCHAR(255), 
	public BOOLEAN NOT NULL, 
	uploaded_at DATETIME NOT NULL, 
	CONSTRAINT pk_evidence_file PRIMARY KEY (sha256, charity_id)
);
CREATE TABLE idempotency (
	"key" VARCHAR(200) NOT NULL, 
	request_hash BLOB NOT NULL, 
	first_seq BIGINT NOT NULL, 
	entry_count INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_idempotency PRIMARY KEY ("key")
);
CREATE TABLE "match" (
	match_id VARCHAR(43) NOT NULL, 
	pool_id VARCHAR(43) NOT NULL, 
	donation_id VARCHAR(43) NOT NULL, 
	payer_hash VARCHAR(66) NOT NULL, 
	amount BIGINT NOT NULL, 
	paid_at VARCHAR(24) NOT NULL, 
	seq BIGINT NOT NULL, 
	reversed BOOLEAN NOT NULL, 
	CONSTRAINT pk_match PRIMARY KEY (match_id)
);
CREATE TABLE match_pool (
	pool_id VARCHAR(43) NOT NULL, 
	matcher_id VARCHAR(43) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	total BIGINT NOT NULL, 
	ratio_percent INTEGER NOT NULL, 
	cap_per_donation BIGINT NOT NULL, 
	cap_per_payer_per_day BIGINT NOT NULL, 
	min_interval_s INTEGER NOT NULL, 
	starts_at VARCHAR(24) NOT NULL, 
	ends_at VARCHAR(24) NOT NULL, 
	day_offset_minutes INTEGER NOT NULL, 
	project_ids TEXT NOT NULL, 
	seq BIGINT NOT NULL, 
	spent BIGINT NOT NULL, 
	matches BIGINT NOT NULL, 
	closed BOOLEAN NOT NULL, 
	CONSTRAINT pk_match_pool PRIMARY KEY (pool_id)
);
CREATE TABLE matcher (
	matcher_id VARCHAR(43) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	registration_no VARCHAR(64) NOT NULL, 
	seq BIGINT NOT NULL, 
	CONSTRAINT pk_matcher PRIMARY KEY (matcher_id)
);
CREATE TABLE merkle_node (
	level SMALLINT NOT NULL, 
	idx BIGINT NOT NULL, 
	hash BLOB NOT NULL, 
	CONSTRAINT pk_merkle_node PRIMARY KEY (level, idx)
);
CREATE TABLE official_receipt (
	donation_id VARCHAR(43) NOT NULL, 
	version INTEGER NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	code VARCHAR(8) NOT NULL, 
	number VARCHAR(10) NOT NULL, 
	check_code VARCHAR(6) NOT NULL, 
	reason VARCHAR(200), 
	attached_by VARCHAR(60) NOT NULL, 
	attached_ms BIGINT NOT NULL, 
	CONSTRAINT pk_official_receipt PRIMARY KEY (donation_id, version)
);
CREATE TABLE "project" (
	project_id VARCHAR(43) NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	goal_amount BIGINT NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	seq BIGINT NOT NULL, 
	closed BOOLEAN DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_project PRIMARY KEY (project_id)
);
CREATE TABLE signed_checkpoint (
	tree_size BIGINT NOT NULL, 
	root_hash BLOB NOT NULL, 
	note TEXT NOT NULL, 
	signed_at DATETIME NOT NULL, 
	CONSTRAINT pk_signed_checkpoint PRIMARY KEY (tree_size)
);
CREATE TABLE webhook_delivery (
	delivery_id VARCHAR(44) NOT NULL, 
	endpoint_id VARCHAR(43) NOT NULL, 
	seq BIGINT NOT NULL, 
	event VARCHAR(40) NOT NULL, 
	payload TEXT NOT NULL, 
	state VARCHAR(12) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_ms BIGINT NOT NULL, 
	created_ms BIGINT NOT NULL, 
	last_ms BIGINT, 
	last_status INTEGER, 
	last_error VARCHAR(300), 
	CONSTRAINT pk_webhook_delivery PRIMARY KEY (delivery_id), 
	CONSTRAINT uq_webhook_delivery_endpoint_id_seq UNIQUE (endpoint_id, seq)
);
CREATE TABLE webhook_endpoint (
	endpoint_id VARCHAR(43) NOT NULL, 
	charity_id VARCHAR(43) NOT NULL, 
	url TEXT NOT NULL, 
	events VARCHAR(200) NOT NULL, 
	secret VARCHAR(80) NOT NULL, 
	created_ms BIGINT NOT NULL, 
	disabled_ms BIGINT, 
	next_seq BIGINT NOT NULL, 
	CONSTRAINT pk_webhook_endpoint PRIMARY KEY (endpoint_id)
);
CREATE TABLE witness_cosignature (
	tree_size BIGINT NOT NULL, 
	witness_key VARCHAR(400) NOT NULL, 
	line TEXT NOT NULL, 
	timestamp BIGINT NOT NULL, 
	received_at DATETIME NOT NULL, 
	CONSTRAINT pk_witness_cosignature PRIMARY KEY (tree_size, witness_key)
);
CREATE TABLE witness_state (
	witness_key VARCHAR(400) NOT NULL, 
	known_size BIGINT NOT NULL, 
	cosigned_at DATETIME, 
	attempted_at DATETIME, 
	outcome VARCHAR(20) NOT NULL, 
	detail TEXT, 
	next_attempt_at DATETIME, 
	failures BIGINT NOT NULL, 
	CONSTRAINT pk_witness_state PRIMARY KEY (witness_key)
);
CREATE INDEX ix_allocation_disbursement_id ON allocation (disbursement_id);
CREATE INDEX ix_allocation_donation_id ON allocation (donation_id);
CREATE INDEX ix_api_key_charity_id ON api_key (charity_id);
CREATE INDEX ix_disbursement_charity_id ON disbursement (charity_id);
CREATE INDEX ix_disbursement_project_id ON disbursement (project_id);
CREATE INDEX ix_donation_charity_id_project_id_seq ON donation (charity_id, project_id, seq);
CREATE INDEX ix_match_donation_id ON "match" (donation_id);
CREATE INDEX ix_match_pool_id_payer_hash ON "match" (pool_id, payer_hash);
CREATE INDEX ix_match_pool_matcher_id ON match_pool (matcher_id);
CREATE INDEX ix_official_receipt_charity_id ON official_receipt (charity_id);
CREATE INDEX ix_project_charity_id ON project (charity_id);
CREATE INDEX ix_webhook_delivery_endpoint_id_created_ms ON webhook_delivery (endpoint_id, created_ms);
CREATE INDEX ix_webhook_delivery_state_next_ms ON webhook_delivery (state, next_ms);
CREATE INDEX ix_webhook_endpoint_charity_id ON webhook_endpoint (charity_id);
CREATE TRIGGER entry_no_delete BEFORE DELETE ON entry BEGIN SELECT RAISE(ABORT, 'the entry table is append-only: DELETE is not allowed'); END;
CREATE TRIGGER entry_no_update BEFORE UPDATE ON entry BEGIN SELECT RAISE(ABORT, 'the entry table is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER merkle_node_no_delete BEFORE DELETE ON merkle_node BEGIN SELECT RAISE(ABORT, 'the merkle_node table is append-only: DELETE is not allowed'); END;
CREATE TRIGGER merkle_node_no_update BEFORE UPDATE ON merkle_node BEGIN SELECT RAISE(ABORT, 'the merkle_node table is append-only: UPDATE is not allowed'); END;
