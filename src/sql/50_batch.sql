-- Batches: a whole roster in one statement.

CREATE FUNCTION @extschema@.cv_verify_batch(roster text, max_age interval DEFAULT NULL,
                                            server name DEFAULT NULL, all_or_nothing boolean DEFAULT false)
RETURNS SETOF @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_batch_query' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_batch(text, interval, name, boolean) IS
    'verify a roster given as a query returning (id, state, license_number[, name]): one result row per input row';

CREATE FUNCTION @extschema@.cv_verify_batch(roster jsonb, max_age interval DEFAULT NULL,
                                            server name DEFAULT NULL, all_or_nothing boolean DEFAULT false)
RETURNS SETOF @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_batch_json' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_batch(jsonb, interval, name, boolean) IS
    'verify a roster given as a JSON array of {"id", "state", "license_number" | "name"}';

-- Running batches, in the spirit of pg_stat_progress_*: another role's batch
-- shows only its pid and phase.
CREATE FUNCTION contractor_verify.batch_progress_rows(
    OUT pid integer, OUT datname name, OUT usename name, OUT server_name text, OUT phase text,
    OUT started_at timestamptz, OUT records_total bigint, OUT records_invalid bigint,
    OUT records_from_cache bigint, OUT lookups_needed bigint, OUT records_sent bigint,
    OUT records_done bigint, OUT records_failed bigint, OUT calls bigint, OUT retries bigint,
    OUT rate_limited bigint, OUT next_call_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cv_batch_progress' LANGUAGE C VOLATILE;

CREATE VIEW contractor_verify.batch_progress AS
SELECT * FROM contractor_verify.batch_progress_rows();
COMMENT ON VIEW contractor_verify.batch_progress IS
    'one row per running cv_verify_batch: records total / from cache / sent / done / failed, calls, 429s, and when the rate limiter next lets it call';

-- Every role may use the functions and watch batches; the tables themselves
-- stay the owner's (grant SELECT on contractor_verify.licenses to analysts).
GRANT USAGE ON SCHEMA contractor_verify TO PUBLIC;
GRANT SELECT ON contractor_verify.batch_progress TO PUBLIC;
