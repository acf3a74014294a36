-- The evidence archive (see src/audit/evidence.rs): the registries' answers as received that
-- decisions rested on, one row per SHA-256 digest (hex) of the envelope, encrypted
-- (key id ‖ nonce ‖ AES-256-GCM ciphertext). Records name the digests; a purged blob keeps its
-- row (purged_at set, blob gone) so that `explain` can say it was purged.
-- The gateway's role needs INSERT on audit_evidence and EXECUTE on the two functions below.

CREATE TABLE audit_evidence (
    digest text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
    blob bytea,
    stored_at timestamptz NOT NULL DEFAULT now(),
    purged_at timestamptz,
    CHECK ((blob IS NULL) = (purged_at IS NOT NULL))
);
CREATE INDEX audit_evidence_stored_at ON audit_evidence (stored_at) WHERE purged_at IS NULL;

-- The records of a decision, found by its id (CheckOwner: one; never more than one per owner).
CREATE INDEX audit_records_decision_id ON audit_records (((line::jsonb) #>> '{decision,id}'))
    WHERE line LIKE '%"decision":{"id":%';

CREATE FUNCTION audit_decision(p_id text)
    RETURNS TABLE (replica text, seq bigint, line text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
AS $$
    SELECT a.replica, a.seq, a.line FROM audit_records a
    WHERE a.line LIKE '%"decision":{"id":%' AND ((a.line::jsonb) #>> '{decision,id}') = p_id
    ORDER BY a.replica, a.seq
$$;
REVOKE ALL ON FUNCTION audit_decision(text) FROM PUBLIC;

CREATE FUNCTION audit_evidence_blobs(p_digests text[])
    RETURNS TABLE (digest text, blob bytea, stored_at timestamptz, purged_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
AS $$
    SELECT e.digest, e.blob, e.stored_at, e.purged_at FROM audit_evidence e
    WHERE e.digest = ANY (p_digests)
$$;
REVOKE ALL ON FUNCTION audit_evidence_blobs(text[]) FROM PUBLIC;

-- purge-evidence: blobs first stored before p_before lose their content (the row stays).
CREATE FUNCTION audit_evidence_purge(p_before timestamptz) RETURNS bigint
    LANGUAGE sql VOLATILE
AS $$
    WITH purged AS (
        UPDATE audit_evidence SET blob = NULL, purged_at = now()
        WHERE purged_at IS NULL AND stored_at < p_before
        RETURNING 1
    )
    SELECT count(*) FROM purged
$$;
REVOKE ALL ON FUNCTION audit_evidence_purge(timestamptz) FROM PUBLIC;
