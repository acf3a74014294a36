-- The central audit store: one hash chain per gateway replica (see src/audit/postgres.rs).
-- Rows are only ever inserted: the gateway's role needs INSERT on the two tables and EXECUTE
-- on audit_head and audit_hash_at, nothing else (docs/production.md lists the GRANTs).

CREATE TABLE audit_records (
    replica text NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    time timestamptz NOT NULL,
    hash text NOT NULL,
    -- The record exactly as the gateway wrote its line (canonical JSON): verify-audit checks it.
    line text NOT NULL,
    PRIMARY KEY (replica, seq)
);

CREATE TABLE audit_checkpoints (
    replica text NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    -- The signed checkpoint line as the gateway wrote it.
    line text NOT NULL,
    PRIMARY KEY (replica, seq)
);

-- Where a replica's chain ends in the store: the one thing the gateway reads (at start and after
-- a lost connection), so that its role needs no SELECT.
CREATE FUNCTION audit_head(p_replica text, OUT seq bigint, OUT hash text, OUT checkpoint bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
AS $$
    SELECT coalesce(r.seq, 0),
           coalesce(r.hash, repeat('0', 64)),
           coalesce((SELECT max(c.seq) FROM audit_checkpoints c WHERE c.replica = p_replica), 0)
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT a.seq, a.hash FROM audit_records a
        WHERE a.replica = p_replica ORDER BY a.seq DESC LIMIT 1
    ) AS r ON true
$$;
REVOKE ALL ON FUNCTION audit_head(text) FROM PUBLIC;

-- The hash of one record: a replica whose local files end before the store's chain checks that
-- they are a prefix of it before going on from the store's end.
CREATE FUNCTION audit_hash_at(p_replica text, p_seq bigint) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
AS $$
    SELECT a.hash FROM audit_records a WHERE a.replica = p_replica AND a.seq = p_seq
$$;
REVOKE ALL ON FUNCTION audit_hash_at(text, bigint) FROM PUBLIC;

-- Append-only for every role, the owner included (a superuser can still disable the triggers:
-- the signed checkpoints are what detects that).
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_records_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
