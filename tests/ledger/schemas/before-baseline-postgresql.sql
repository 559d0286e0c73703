-- The PostgreSQL schema that revisions 0001 to 0011 made, before the 0.1.0 baseline
-- replaced them (ADR 0050): pg_dump --schema-only of a database migrated by shanlian at
-- commit 5fa3543. tests/ledger/test_migrations.py opens a database made from it.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: shanlian_reject_change(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.shanlian_reject_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;


ALTER FUNCTION public.shanlian_reject_change() OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


ALTER TABLE public.alembic_version OWNER TO postgres;

--
-- Name: allocation; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.allocation (
    allocation_id character varying(43) NOT NULL,
    donation_id character varying(43) NOT NULL,
    disbursement_id character varying(43) NOT NULL,
    amount bigint NOT NULL,
    seq bigint NOT NULL,
    reversed boolean NOT NULL
);


ALTER TABLE public.allocation OWNER TO postgres;

--
-- Name: api_key; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.api_key (
    key_hash bytea NOT NULL,
    role character varying(16) NOT NULL,
    charity_id character varying(43),
    label character varying(200) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone
);


ALTER TABLE public.api_key OWNER TO postgres;

--
-- Name: charity; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.charity (
    charity_id character varying(43) NOT NULL,
    name character varying(200) NOT NULL,
    registration_no character varying(64) NOT NULL,
    signer character varying(42),
    seq bigint NOT NULL,
    signer_seq bigint
);


ALTER TABLE public.charity OWNER TO postgres;

--
-- Name: charity_registration; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.charity_registration (
    registration_key character varying(64) NOT NULL,
    charity_id character varying(43) NOT NULL
);


ALTER TABLE public.charity_registration OWNER TO postgres;

--
-- Name: checkpoint; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.checkpoint (
    checkpoint_index bigint NOT NULL,
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    chain_id bigint NOT NULL,
    contract character varying(42) NOT NULL,
    tx_hash bytea NOT NULL,
    block_number bigint NOT NULL,
    block_hash bytea NOT NULL,
    anchored_at timestamp with time zone NOT NULL,
    confirmed boolean NOT NULL
);


ALTER TABLE public.checkpoint OWNER TO postgres;

--
-- Name: disbursement; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.disbursement (
    disbursement_id character varying(43) NOT NULL,
    charity_id character varying(43) NOT NULL,
    project_id character varying(43),
    amount bigint NOT NULL,
    currency character varying(3) NOT NULL,
    payee character varying(200) NOT NULL,
    purpose character varying(500) NOT NULL,
    seq bigint NOT NULL,
    allocated bigint NOT NULL,
    voided boolean NOT NULL
);


ALTER TABLE public.disbursement OWNER TO postgres;

--
-- Name: donation; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.donation (
    donation_id character varying(43) NOT NULL,
    charity_id character varying(43) NOT NULL,
    project_id character varying(43),
    amount bigint NOT NULL,
    currency character varying(3) NOT NULL,
    channel character varying(32) NOT NULL,
    paid_at character varying(24) NOT NULL,
    seq bigint NOT NULL,
    refunded bigint NOT NULL,
    allocated bigint NOT NULL
);


ALTER TABLE public.donation OWNER TO postgres;

--
-- Name: donor; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.donor (
    donation_id character varying(43) NOT NULL,
    receipt_secret bytea NOT NULL,
    name character varying(200),
    phone character varying(40),
    email character varying(254),
    anonymous boolean NOT NULL,
    created_at timestamp with time zone NOT NULL
);


ALTER TABLE public.donor OWNER TO postgres;

--
-- Name: entry; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.entry (
    seq bigint NOT NULL,
    kind character varying(40) NOT NULL,
    actor character varying(60) NOT NULL,
    at timestamp with time zone NOT NULL,
    leaf text NOT NULL,
    leaf_hash bytea NOT NULL
);


ALTER TABLE public.entry OWNER TO postgres;

--
-- Name: entry_ref; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.entry_ref (
    ref_id character varying(43) NOT NULL,
    seq bigint NOT NULL
);


ALTER TABLE public.entry_ref OWNER TO postgres;

--
-- Name: evidence_file; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.evidence_file (
    sha256 bytea NOT NULL,
    charity_id character varying(43) NOT NULL,
    media_type character varying(127) NOT NULL,
    size bigint NOT NULL,
    filename character varying(255),
    public boolean NOT NULL,
    uploaded_at timestamp with time zone NOT NULL
);


ALTER TABLE public.evidence_file OWNER TO postgres;

--
-- Name: idempotency; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.idempotency (
    key character varying(200) NOT NULL,
    request_hash bytea NOT NULL,
    first_seq bigint NOT NULL,
    entry_count integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);


ALTER TABLE public.idempotency OWNER TO postgres;

--
-- Name: match; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.match (
    match_id character varying(43) NOT NULL,
    pool_id character varying(43) NOT NULL,
    donation_id character varying(43) NOT NULL,
    payer_hash character varying(66) NOT NULL,
    amount bigint NOT NULL,
    paid_at character varying(24) NOT NULL,
    seq bigint NOT NULL,
    reversed boolean NOT NULL
);


ALTER TABLE public.match OWNER TO postgres;

--
-- Name: match_pool; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.match_pool (
    pool_id character varying(43) NOT NULL,
    matcher_id character varying(43) NOT NULL,
    title character varying(200) NOT NULL,
    currency character varying(3) NOT NULL,
    total bigint NOT NULL,
    ratio_percent integer NOT NULL,
    cap_per_donation bigint NOT NULL,
    cap_per_payer_per_day bigint NOT NULL,
    min_interval_s integer NOT NULL,
    starts_at character varying(24) NOT NULL,
    ends_at character varying(24) NOT NULL,
    day_offset_minutes integer NOT NULL,
    project_ids text NOT NULL,
    seq bigint NOT NULL,
    spent bigint NOT NULL,
    matches bigint NOT NULL,
    closed boolean NOT NULL
);


ALTER TABLE public.match_pool OWNER TO postgres;

--
-- Name: matcher; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.matcher (
    matcher_id character varying(43) NOT NULL,
    name character varying(200) NOT NULL,
    registration_no character varying(64) NOT NULL,
    seq bigint NOT NULL
);


ALTER TABLE public.matcher OWNER TO postgres;

--
-- Name: merkle_node; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.merkle_node (
    level smallint NOT NULL,
    idx bigint NOT NULL,
    hash bytea NOT NULL
);


ALTER TABLE public.merkle_node OWNER TO postgres;

--
-- Name: official_receipt; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.official_receipt (
    donation_id character varying(43) NOT NULL,
    version integer NOT NULL,
    charity_id character varying(43) NOT NULL,
    code character varying(8) NOT NULL,
    number character varying(10) NOT NULL,
    check_code character varying(6) NOT NULL,
    reason character varying(200),
    attached_by character varying(60) NOT NULL,
    attached_ms bigint NOT NULL
);


ALTER TABLE public.official_receipt OWNER TO postgres;

--
-- Name: project; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.project (
    project_id character varying(43) NOT NULL,
    charity_id character varying(43) NOT NULL,
    title character varying(200) NOT NULL,
    goal_amount bigint NOT NULL,
    currency character varying(3) NOT NULL,
    seq bigint NOT NULL,
    closed boolean DEFAULT false NOT NULL
);


ALTER TABLE public.project OWNER TO postgres;

--
-- Name: signed_checkpoint; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.signed_checkpoint (
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    note text NOT NULL,
    signed_at timestamp with time zone NOT NULL
);


ALTER TABLE public.signed_checkpoint OWNER TO postgres;

--
-- Name: webhook_delivery; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.webhook_delivery (
    delivery_id character varying(44) NOT NULL,
    endpoint_id character varying(43) NOT NULL,
    seq bigint NOT NULL,
    event character varying(40) NOT NULL,
    payload text NOT NULL,
    state character varying(12) NOT NULL,
    attempts integer NOT NULL,
    next_ms bigint NOT NULL,
    created_ms bigint NOT NULL,
    last_ms bigint,
    last_status integer,
    last_error character varying(300)
);


ALTER TABLE public.webhook_delivery OWNER TO postgres;

--
-- Name: webhook_endpoint; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.webhook_endpoint (
    endpoint_id character varying(43) NOT NULL,
    charity_id character varying(43) NOT NULL,
    url text NOT NULL,
    events character varying(200) NOT NULL,
    secret character varying(80) NOT NULL,
    created_ms bigint NOT NULL,
    disabled_ms bigint,
    next_seq bigint NOT NULL
);


ALTER TABLE public.webhook_endpoint OWNER TO postgres;

--
-- Name: witness_cosignature; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.witness_cosignature (
    tree_size bigint NOT NULL,
    witness_key character varying(400) NOT NULL,
    line text NOT NULL,
    "timestamp" bigint NOT NULL,
    received_at timestamp with time zone NOT NULL
);


ALTER TABLE public.witness_cosignature OWNER TO postgres;

--
-- Name: witness_state; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.witness_state (
    witness_key character varying(400) NOT NULL,
    known_size bigint NOT NULL,
    cosigned_at timestamp with time zone,
    attempted_at timestamp with time zone,
    outcome character varying(20) NOT NULL,
    detail text,
    next_attempt_at timestamp with time zone,
    failures bigint NOT NULL
);


ALTER TABLE public.witness_state OWNER TO postgres;

--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: allocation pk_allocation; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.allocation
    ADD CONSTRAINT pk_allocation PRIMARY KEY (allocation_id);


--
-- Name: api_key pk_api_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.api_key
    ADD CONSTRAINT pk_api_key PRIMARY KEY (key_hash);


--
-- Name: charity pk_charity; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.charity
    ADD CONSTRAINT pk_charity PRIMARY KEY (charity_id);


--
-- Name: charity_registration pk_charity_registration; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.charity_registration
    ADD CONSTRAINT pk_charity_registration PRIMARY KEY (registration_key);


--
-- Name: checkpoint pk_checkpoint; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.checkpoint
    ADD CONSTRAINT pk_checkpoint PRIMARY KEY (checkpoint_index);


--
-- Name: disbursement pk_disbursement; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.disbursement
    ADD CONSTRAINT pk_disbursement PRIMARY KEY (disbursement_id);


--
-- Name: donation pk_donation; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.donation
    ADD CONSTRAINT pk_donation PRIMARY KEY (donation_id);


--
-- Name: donor pk_donor; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.donor
    ADD CONSTRAINT pk_donor PRIMARY KEY (donation_id);


--
-- Name: entry pk_entry; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.entry
    ADD CONSTRAINT pk_entry PRIMARY KEY (seq);


--
-- Name: entry_ref pk_entry_ref; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.entry_ref
    ADD CONSTRAINT pk_entry_ref PRIMARY KEY (ref_id, seq);


--
-- Name: evidence_file pk_evidence_file; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.evidence_file
    ADD CONSTRAINT pk_evidence_file PRIMARY KEY (sha256, charity_id);


--
-- Name: idempotency pk_idempotency; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.idempotency
    ADD CONSTRAINT pk_idempotency PRIMARY KEY (key);


--
-- Name: match pk_match; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.match
    ADD CONSTRAINT pk_match PRIMARY KEY (match_id);


--
-- Name: match_pool pk_match_pool; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.match_pool
    ADD CONSTRAINT pk_match_pool PRIMARY KEY (pool_id);


--
-- Name: matcher pk_matcher; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.matcher
    ADD CONSTRAINT pk_matcher PRIMARY KEY (matcher_id);


--
-- Name: merkle_node pk_merkle_node; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.merkle_node
    ADD CONSTRAINT pk_merkle_node PRIMARY KEY (level, idx);


--
-- Name: official_receipt pk_official_receipt; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.official_receipt
    ADD CONSTRAINT pk_official_receipt PRIMARY KEY (donation_id, version);


--
-- Name: project pk_project; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.project
    ADD CONSTRAINT pk_project PRIMARY KEY (project_id);


--
-- Name: signed_checkpoint pk_signed_checkpoint; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.signed_checkpoint
    ADD CONSTRAINT pk_signed_checkpoint PRIMARY KEY (tree_size);


--
-- Name: webhook_delivery pk_webhook_delivery; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.webhook_delivery
    ADD CONSTRAINT pk_webhook_delivery PRIMARY KEY (delivery_id);


--
-- Name: webhook_endpoint pk_webhook_endpoint; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.webhook_endpoint
    ADD CONSTRAINT pk_webhook_endpoint PRIMARY KEY (endpoint_id);


--
-- Name: witness_cosignature pk_witness_cosignature; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.witness_cosignature
    ADD CONSTRAINT pk_witness_cosignature PRIMARY KEY (tree_size, witness_key);


--
-- Name: witness_state pk_witness_state; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.witness_state
    ADD CONSTRAINT pk_witness_state PRIMARY KEY (witness_key);


--
-- Name: checkpoint uq_checkpoint_tree_size; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.checkpoint
    ADD CONSTRAINT uq_checkpoint_tree_size UNIQUE (tree_size);


--
-- Name: webhook_delivery uq_webhook_delivery_endpoint_id_seq; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.webhook_delivery
    ADD CONSTRAINT uq_webhook_delivery_endpoint_id_seq UNIQUE (endpoint_id, seq);


--
-- Name: ix_allocation_disbursement_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_allocation_disbursement_id ON public.allocation USING btree (disbursement_id);


--
-- Name: ix_allocation_donation_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_allocation_donation_id ON public.allocation USING btree (donation_id);


--
-- Name: ix_api_key_charity_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_api_key_charity_id ON public.api_key USING btree (charity_id);


--
-- Name: ix_disbursement_charity_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_disbursement_charity_id ON public.disbursement USING btree (charity_id);


--
-- Name: ix_disbursement_project_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_disbursement_project_id ON public.disbursement USING btree (project_id);


--
-- Name: ix_donation_charity_id_project_id_seq; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_donation_charity_id_project_id_seq ON public.donation USING btree (charity_id, project_id, seq);


--
-- Name: ix_match_donation_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_match_donation_id ON public.match USING btree (donation_id);


--
-- Name: ix_match_pool_id_payer_hash; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_match_pool_id_payer_hash ON public.match USING btree (pool_id, payer_hash);


--
-- Name: ix_match_pool_matcher_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_match_pool_matcher_id ON public.match_pool USING btree (matcher_id);


--
-- Name: ix_official_receipt_charity_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_official_receipt_charity_id ON public.official_receipt USING btree (charity_id);


--
-- Name: ix_project_charity_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_project_charity_id ON public.project USING btree (charity_id);


--
-- Name: ix_webhook_delivery_endpoint_id_created_ms; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_webhook_delivery_endpoint_id_created_ms ON public.webhook_delivery USING btree (endpoint_id, created_ms);


--
-- Name: ix_webhook_delivery_state_next_ms; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_webhook_delivery_state_next_ms ON public.webhook_delivery USING btree (state, next_ms);


--
-- Name: ix_webhook_endpoint_charity_id; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX ix_webhook_endpoint_charity_id ON public.webhook_endpoint USING btree (charity_id);


--
-- Name: entry entry_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER entry_append_only BEFORE DELETE OR UPDATE ON public.entry FOR EACH ROW EXECUTE FUNCTION public.shanlian_reject_change();


--
-- Name: entry entry_no_truncate; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER entry_no_truncate BEFORE TRUNCATE ON public.entry FOR EACH STATEMENT EXECUTE FUNCTION public.shanlian_reject_change();


--
-- Name: merkle_node merkle_node_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER merkle_node_append_only BEFORE DELETE OR UPDATE ON public.merkle_node FOR EACH ROW EXECUTE FUNCTION public.shanlian_reject_change();


--
-- Name: merkle_node merkle_node_no_truncate; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER merkle_node_no_truncate BEFORE TRUNCATE ON public.merkle_node FOR EACH STATEMENT EXECUTE FUNCTION public.shanlian_reject_change();


--
-- Name: signed_checkpoint signed_checkpoint_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER signed_checkpoint_append_only BEFORE DELETE OR UPDATE ON public.signed_checkpoint FOR EACH ROW EXECUTE FUNCTION public.shanlian_reject_change();


--
-- Name: witness_cosignature witness_cosignature_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER witness_cosignature_append_only BEFORE DELETE OR UPDATE ON public.witness_cosignature FOR EACH ROW EXECUTE FUNCTION public.shanlian_reject_change();


--
-- PostgreSQL database dump complete
--
