-- Batches: a whole roster in one statement.

-- One roster row normalized as cv_verify normalizes its arguments; the key
-- deduplicates lookups ("L:CA:1052183", or "N:WA:pacific northwest roofing"
-- for a name). An invalid row gets error_message and no key.
CREATE FUNCTION contractor_verify.normalize_input(p_state text, p_license_number text, p_name text,
    OUT state text, OUT license_number text, OUT name text, OUT lookup_key text, OUT error_message text)
AS 'MODULE_PATHNAME', 'cv_normalize_input' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Plans the batch held in pg_temp.cv_batch_roster: one lookup per distinct key
-- not answered by a fresh cache entry (names are always looked up), numbered
-- in roster order. Runs as the extension owner.
CREATE FUNCTION contractor_verify.batch_plan(p_max_age interval,
    OUT total bigint, OUT invalid bigint, OUT cached bigint, OUT lookups bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
    IF to_regclass('pg_temp.cv_batch_lookups') IS NOT NULL THEN
        DROP TABLE pg_temp.cv_batch_lookups;
    END IF;
    IF to_regclass('pg_temp.cv_batch_results') IS NOT NULL THEN
        DROP TABLE pg_temp.cv_batch_results;
    END IF;
    CREATE TEMP TABLE cv_batch_lookups (
        lookup_id bigint PRIMARY KEY, lookup_key text NOT NULL, state text NOT NULL,
        license_number text, name text);
    CREATE TEMP TABLE cv_batch_results (lookup_id bigint PRIMARY KEY, result cv_result);

    INSERT INTO pg_temp.cv_batch_lookups (lookup_id, lookup_key, state, license_number, name)
    SELECT row_number() OVER (ORDER BY k.first_ord), k.lookup_key, r.n_state, r.n_license_number, r.n_name
    FROM (SELECT lookup_key, min(ord) AS first_ord
            FROM pg_temp.cv_batch_roster
           WHERE input_error IS NULL
           GROUP BY lookup_key) AS k
    JOIN pg_temp.cv_batch_roster r ON r.ord = k.first_ord
    WHERE r.n_license_number IS NULL
       OR NOT EXISTS (
            SELECT 1 FROM contractor_verify.license_cache c
             WHERE c.state = r.n_state AND c.license_number = r.n_license_number
               AND c.outcome IS NOT NULL
               AND c.expires_at > clock_timestamp()
               AND (p_max_age IS NULL OR c.fetched_at > clock_timestamp() - p_max_age));
    ANALYZE pg_temp.cv_batch_lookups;

    SELECT count(*), count(*) FILTER (WHERE input_error IS NOT NULL)
      INTO total, invalid FROM pg_temp.cv_batch_roster;
    SELECT count(*) INTO lookups FROM pg_temp.cv_batch_lookups;
    SELECT count(*) INTO cached
      FROM pg_temp.cv_batch_roster r
     WHERE r.input_error IS NULL
       AND NOT EXISTS (SELECT 1 FROM pg_temp.cv_batch_lookups l WHERE l.lookup_key = r.lookup_key);
END
$fn$;
REVOKE ALL ON FUNCTION contractor_verify.batch_plan(interval) FROM PUBLIC;

CREATE FUNCTION cv_verify_batch(roster text, max_age interval DEFAULT NULL,
                                server name DEFAULT NULL, all_or_nothing boolean DEFAULT false)
RETURNS SETOF cv_result
AS 'MODULE_PATHNAME', 'cv_verify_batch_query' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION cv_verify_batch(text, interval, name, boolean) IS
    'verify a roster given as a query returning (id, state, license_number[, name]): one result row per input row';

CREATE FUNCTION cv_verify_batch(roster jsonb, max_age interval DEFAULT NULL,
                                server name DEFAULT NULL, all_or_nothing boolean DEFAULT false)
RETURNS SETOF cv_result
AS 'MODULE_PATHNAME', 'cv_verify_batch_json' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION cv_verify_batch(jsonb, interval, name, boolean) IS
    'verify a roster given as a JSON array of {"id", "state", "license_number" | "name"}';

-- Running batches, in the spirit of pg_stat_progress_*.
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

-- Imports the answers of transactions that did not commit (a cancelled or
-- failed batch, a crash); every lookup does this first on its own.
CREATE FUNCTION contractor_verify.recover_answers() RETURNS bigint
AS 'MODULE_PATHNAME', 'cv_recover_answers' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION contractor_verify.recover_answers() FROM PUBLIC;
