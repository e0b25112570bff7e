-- Storage of observations, shared by every lookup path. The C functions call
-- these as the extension owner; nobody else may.

-- ACTIVE and not expired as of today (a license that expired yesterday is not
-- compliant today, whatever the cache says).
CREATE FUNCTION contractor_verify.is_compliant(license_status text, expiration_date date)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(license_status = 'ACTIVE'
                    AND (expiration_date IS NULL OR expiration_date >= current_date), false)
$$;

-- A result row from a cache row (which may be NULL) and the observation's error.
CREATE FUNCTION contractor_verify.result_of(
    c contractor_verify.license_cache, p_id text, p_state text, p_license_number text,
    p_error_code text, p_error_message text, p_candidates jsonb, p_from_cache boolean)
RETURNS cv_result LANGUAGE sql STABLE AS $$
    SELECT ROW(
        p_id,
        coalesce(c.state, p_state),
        coalesce(c.license_number, p_license_number),
        c.license_status, c.license_type, c.classifications, c.business_name,
        c.issue_date, c.expiration_date, c.bond_amount_cents, c.insurance_required,
        c.has_disciplinary_actions, c.disciplinary_actions, c.address,
        contractor_verify.is_compliant(c.license_status, c.expiration_date),
        p_error_code, p_error_message, p_candidates,
        CASE WHEN c.outcome IS NOT NULL THEN c.fetched_at END,
        p_from_cache AND c.outcome IS NOT NULL,
        coalesce(c.needs_review, false) OR p_error_code IS NOT DISTINCT FROM 'NOT_FOUND',
        c.next_attempt_at,
        c.record)::cv_result
$$;

-- Fresh cache entries for the given keys: answered without a call.
-- p_max_age asks for data fresher than the TTL (0: never from the cache).
CREATE FUNCTION contractor_verify.fresh_results(
    p_states text[], p_license_numbers text[], p_ids text[], p_max_age interval)
RETURNS TABLE (ord bigint, result cv_result)
LANGUAGE sql STABLE AS $$
    SELECT k.ord,
           contractor_verify.result_of(c, k.id, k.state, k.license_number,
                                       c.error_code, c.error_message, NULL, true)
    FROM unnest(p_states, p_license_numbers, p_ids) WITH ORDINALITY AS k(state, license_number, id, ord)
    JOIN LATERAL (SELECT * FROM contractor_verify.license_cache x
                   WHERE x.state = k.state AND x.license_number = k.license_number
                   LIMIT 1) c ON true
    WHERE c.outcome IS NOT NULL
      AND c.expires_at > clock_timestamp()
      AND (p_max_age IS NULL OR c.fetched_at > clock_timestamp() - p_max_age)
    ORDER BY k.ord
$$;

-- The observation documents as rows, in input order.
CREATE FUNCTION contractor_verify.observations_of(p_observations jsonb)
RETURNS TABLE (n bigint, o jsonb, state text, license_number text, outcome text,
               observed timestamptz, expires timestamptz, attempt_only boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT x.n, x.o, x.o->>'state', x.o->>'license_number', x.o->>'outcome',
           to_timestamp((x.o->>'observed_at_ms')::numeric / 1000),
           to_timestamp(((x.o->>'observed_at_ms')::numeric + coalesce((x.o->>'ttl_ms')::numeric, 0)) / 1000),
           coalesce((x.o->>'attempt_only')::boolean, false)
    FROM jsonb_array_elements(p_observations) WITH ORDINALITY AS x(o, n)
$$;

-- Records observations (the JSON documents the core builds, one per lookup or
-- failed attempt): every one goes to the history; answers update the cache,
-- where an error never overwrites a verified record; returns one result per
-- answer (not per failed attempt), in input order.
CREATE FUNCTION contractor_verify.record_observations(
    p_server text, p_role name, p_observations jsonb, p_timeouts_before_review integer)
RETURNS SETOF cv_result
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO contractor_verify.verification_history
        (observed_at, role_name, server_name, request_kind, caller_id, batch_id, state,
         license_number, lookup_name, http_status, outcome, error_code, error_message,
         license_status, billable, payload)
    SELECT b.observed, p_role, p_server, coalesce(b.o->>'request_kind', 'single'), b.o->>'id',
           b.o->>'batch_id', b.state, b.license_number, b.o->>'name',
           (b.o->>'http_status')::integer, b.outcome, b.o->>'error_code', b.o->>'error_message',
           b.o->'record'->>'license_status', coalesce((b.o->>'billable')::boolean, false),
           nullif(b.o->'raw', 'null'::jsonb)
    FROM contractor_verify.observations_of(p_observations) b ORDER BY b.n;

    -- Verified records replace what the cache holds, unless it holds newer data.
    INSERT INTO contractor_verify.license_cache AS c
        (state, license_number, outcome, license_status, license_type, classifications,
         business_name, issue_date, expiration_date, bond_amount_cents, insurance_required,
         has_disciplinary_actions, disciplinary_actions, address, error_code, error_message,
         record, server_name, fetched_at, expires_at, last_attempt_at, last_error_code,
         last_error_message, consecutive_timeouts, next_attempt_at, needs_review, review_reason)
    SELECT DISTINCT ON (b.state, b.license_number)
           b.state, b.license_number, 'VERIFIED', r->>'license_status', r->>'license_type',
           ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'classifications', '[]'))),
           r->>'business_name', (r->>'issue_date')::date, (r->>'expiration_date')::date,
           (r->>'bond_amount_cents')::bigint, (r->>'insurance_required')::boolean,
           coalesce((r->>'has_disciplinary_actions')::boolean, false),
           coalesce(r->'disciplinary_actions', '[]'), nullif(r->'address', 'null'::jsonb),
           NULL, NULL, nullif(b.o->'raw', 'null'::jsonb), p_server, b.observed, b.expires,
           b.observed, NULL, NULL, 0, NULL, false, NULL
    FROM contractor_verify.observations_of(p_observations) b, LATERAL (SELECT b.o->'record') AS rec(r)
    WHERE b.outcome = 'VERIFIED' AND NOT b.attempt_only AND b.license_number IS NOT NULL
    ORDER BY b.state, b.license_number, b.observed DESC
    ON CONFLICT (state, license_number) DO UPDATE SET
        outcome = EXCLUDED.outcome, license_status = EXCLUDED.license_status,
        license_type = EXCLUDED.license_type, classifications = EXCLUDED.classifications,
        business_name = EXCLUDED.business_name, issue_date = EXCLUDED.issue_date,
        expiration_date = EXCLUDED.expiration_date, bond_amount_cents = EXCLUDED.bond_amount_cents,
        insurance_required = EXCLUDED.insurance_required,
        has_disciplinary_actions = EXCLUDED.has_disciplinary_actions,
        disciplinary_actions = EXCLUDED.disciplinary_actions, address = EXCLUDED.address,
        error_code = NULL, error_message = NULL, record = EXCLUDED.record,
        server_name = EXCLUDED.server_name, fetched_at = EXCLUDED.fetched_at,
        expires_at = EXCLUDED.expires_at, last_attempt_at = EXCLUDED.last_attempt_at,
        last_error_code = NULL, last_error_message = NULL, consecutive_timeouts = 0,
        next_attempt_at = NULL, needs_review = false, review_reason = NULL
    WHERE c.fetched_at IS NULL OR c.fetched_at <= EXCLUDED.fetched_at;

    -- Cacheable per-record errors (NOT_FOUND, INVALID_STATE_FORMAT): beside a
    -- verified record they only note the attempt; otherwise they are the entry.
    -- (One INSERT ... ON CONFLICT, so every row goes through the primary key
    -- whatever the plan cached when the table was small believes.)
    INSERT INTO contractor_verify.license_cache AS c
        (state, license_number, outcome, error_code, error_message, record, server_name,
         fetched_at, expires_at, last_attempt_at, last_error_code, last_error_message,
         consecutive_timeouts, next_attempt_at, needs_review, review_reason)
    SELECT DISTINCT ON (b.state, b.license_number)
           b.state, b.license_number, b.outcome, b.outcome, b.o->>'error_message',
           nullif(b.o->'raw', 'null'::jsonb), p_server, b.observed, b.expires, b.observed,
           b.outcome, b.o->>'error_message', 0, NULL, b.outcome = 'NOT_FOUND',
           CASE WHEN b.outcome = 'NOT_FOUND' THEN 'NOT_FOUND' END
    FROM contractor_verify.observations_of(p_observations) b
    WHERE b.o->>'ttl_ms' IS NOT NULL AND b.outcome <> 'VERIFIED' AND NOT b.attempt_only
      AND b.license_number IS NOT NULL
    ORDER BY b.state, b.license_number, b.observed DESC
    ON CONFLICT (state, license_number) DO UPDATE SET
        outcome       = CASE WHEN c.outcome = 'VERIFIED' THEN c.outcome ELSE EXCLUDED.outcome END,
        error_code    = CASE WHEN c.outcome = 'VERIFIED' THEN c.error_code ELSE EXCLUDED.error_code END,
        error_message = CASE WHEN c.outcome = 'VERIFIED' THEN c.error_message ELSE EXCLUDED.error_message END,
        record        = CASE WHEN c.outcome = 'VERIFIED' THEN c.record ELSE EXCLUDED.record END,
        server_name   = CASE WHEN c.outcome = 'VERIFIED' THEN c.server_name ELSE EXCLUDED.server_name END,
        fetched_at    = CASE WHEN c.outcome = 'VERIFIED' THEN c.fetched_at ELSE EXCLUDED.fetched_at END,
        expires_at    = CASE WHEN c.outcome = 'VERIFIED' THEN c.expires_at ELSE EXCLUDED.expires_at END,
        consecutive_timeouts = CASE WHEN c.outcome = 'VERIFIED' THEN c.consecutive_timeouts ELSE 0 END,
        next_attempt_at = CASE WHEN c.outcome = 'VERIFIED' THEN c.next_attempt_at END,
        last_attempt_at = EXCLUDED.last_attempt_at,
        last_error_code = EXCLUDED.last_error_code,
        last_error_message = EXCLUDED.last_error_message,
        needs_review  = CASE WHEN c.outcome = 'VERIFIED'
                             THEN c.needs_review OR EXCLUDED.outcome = 'NOT_FOUND'
                             ELSE EXCLUDED.needs_review END,
        review_reason = CASE WHEN c.outcome = 'VERIFIED' AND EXCLUDED.outcome = 'NOT_FOUND'
                             THEN 'NOT_FOUND after a verified record'
                             WHEN c.outcome = 'VERIFIED' THEN c.review_reason
                             ELSE EXCLUDED.review_reason END
    WHERE c.outcome = 'VERIFIED' OR c.fetched_at IS NULL OR c.fetched_at <= EXCLUDED.fetched_at;

    -- STATE_TIMEOUT: keep whatever the cache holds, count the timeout, schedule
    -- the next attempt, and flag for manual review after enough in a row.
    INSERT INTO contractor_verify.license_cache AS c
        (state, license_number, server_name, last_attempt_at, last_error_code,
         last_error_message, consecutive_timeouts, next_attempt_at, needs_review, review_reason)
    SELECT DISTINCT ON (b.state, b.license_number)
           b.state, b.license_number, p_server, b.observed, b.outcome, b.o->>'error_message', 1,
           to_timestamp((b.o->>'retry_at_ms')::numeric / 1000), 1 >= p_timeouts_before_review,
           CASE WHEN 1 >= p_timeouts_before_review THEN 'STATE_TIMEOUT 1 time' END
    FROM contractor_verify.observations_of(p_observations) b
    WHERE b.outcome = 'STATE_TIMEOUT' AND NOT b.attempt_only AND b.license_number IS NOT NULL
    ORDER BY b.state, b.license_number, b.observed DESC
    ON CONFLICT (state, license_number) DO UPDATE SET
        last_attempt_at = EXCLUDED.last_attempt_at, last_error_code = EXCLUDED.last_error_code,
        last_error_message = EXCLUDED.last_error_message,
        consecutive_timeouts = c.consecutive_timeouts + 1,
        next_attempt_at = EXCLUDED.next_attempt_at,
        needs_review = c.needs_review OR c.consecutive_timeouts + 1 >= p_timeouts_before_review,
        review_reason = CASE WHEN c.consecutive_timeouts + 1 >= p_timeouts_before_review
                             THEN 'STATE_TIMEOUT ' || (c.consecutive_timeouts + 1) || ' times in a row'
                             ELSE c.review_reason END;

    RETURN QUERY
    SELECT (contractor_verify.result_of(
                c, b.o->>'id', b.state, coalesce(b.license_number, b.o->>'requested_license_number'),
                b.o->>'error_code', b.o->>'error_message', nullif(b.o->'candidates', 'null'::jsonb),
                coalesce(c.fetched_at < b.observed, false))).*
    FROM contractor_verify.observations_of(p_observations) b
    -- One index probe per observation (LIMIT keeps the planner from hashing
    -- the whole cache for a chunk of 100).
    LEFT JOIN LATERAL (SELECT * FROM contractor_verify.license_cache x
                        WHERE x.state = b.state AND x.license_number = b.license_number
                        LIMIT 1) c ON true
    WHERE NOT b.attempt_only
    ORDER BY b.n;
END
$fn$;

-- Lookups the API has counted this calendar month (UTC) for a server.
CREATE FUNCTION contractor_verify.lookups_this_month(p_server text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM contractor_verify.verification_history
    WHERE billable AND server_name = p_server
      AND observed_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

REVOKE ALL ON FUNCTION contractor_verify.result_of(contractor_verify.license_cache, text, text, text, text, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION contractor_verify.fresh_results(text[], text[], text[], interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION contractor_verify.observations_of(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION contractor_verify.lookups_this_month(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION contractor_verify.record_observations(text, name, jsonb, integer) FROM PUBLIC;
