-- Per-record answers are rows, not errors: NOT_FOUND (404), INVALID_STATE_FORMAT
-- (422), MULTIPLE_CANDIDATES (409), STATE_TIMEOUT (504). The statement goes on.
\i sql/include/setup.psql

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';
\set _ `test/simctl license CA 7000001 outcome=NOT_FOUND`
\set _ `test/simctl license LA 80001 outcome=STATE_TIMEOUT`

-- NOT_FOUND: a row flagged for manual review, cached briefly (1h).
SELECT license_number, license_status, compliant, error_code, error_message, from_cache, needs_review
FROM cv_verify('CA', '7000001');
SELECT license_number, error_code, from_cache FROM cv_verify('CA', '7000001');
SELECT outcome, expires_at - fetched_at AS ttl, needs_review, review_reason
FROM contractor_verify.license_cache WHERE license_number = '7000001';

-- INVALID_STATE_FORMAT (a CA number looked up in TX): a data-quality answer.
SELECT state, license_number, error_code, error_message, compliant
FROM cv_verify('TX', '1052183');

-- MULTIPLE_CANDIDATES: the candidates come back; nothing is cached.
SELECT error_code, error_message, jsonb_array_length(candidates) AS candidates,
       candidates->0->>'license_number' AS first_candidate
FROM cv_verify_by_name('WA', 'Pacific Northwest Roofing LLC');

-- A unique name resolves to its license, which is then cached by number.
SELECT license_number, business_name, license_status, error_code
FROM cv_verify_by_name('CA', 'pacific electric, inc.');
SELECT license_number, from_cache FROM cv_verify('CA', '1052183');

-- STATE_TIMEOUT: the next attempt is scheduled 4 to 6 hours later and the
-- license is not called again before then (the row says so, from the cache);
-- max_age => 0 forces a call. Each timeout is counted, and the third in a row
-- asks for manual review.
SELECT error_code, needs_review, from_cache,
       next_attempt_at BETWEEN now() + interval '4 hours' AND now() + interval '6 hours 1 minute' AS retry_in_4_to_6h
FROM cv_verify('LA', '80001');
SELECT error_code, needs_review, from_cache, next_attempt_at > now() AS retry_later FROM cv_verify('LA', '80001');
SELECT error_code, needs_review FROM cv_verify('LA', '80001', max_age => '0');
SELECT error_code, needs_review FROM cv_verify('LA', '80001', max_age => '0');
SELECT outcome, consecutive_timeouts, needs_review, review_reason
FROM contractor_verify.license_cache WHERE license_number = '80001';

-- The simulator saw exactly one call per answer above except the three cache hits.
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls,
       (:'c'::jsonb)#>>'{per_license,LA:80001}' AS la_lookups;

SELECT request_kind, state, coalesce(license_number, lookup_name) AS looked_up, http_status, outcome
FROM contractor_verify.verification_history ORDER BY id;

SELECT state, license_number, compliant, compliance_reason, needs_review
FROM contractor_verify.licenses ORDER BY state, license_number;

DROP SERVER cv_sim CASCADE;
