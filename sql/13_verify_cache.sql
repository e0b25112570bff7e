-- The cache: TTL expiry, max_age, the shorter TTL for flagged records, and an
-- error never overwriting known-good data.
\i sql/include/setup.psql

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

SELECT from_cache FROM cv_verify('CA', '1052183');
-- max_age asks for fresher data than the TTL: 0 always calls.
SELECT from_cache FROM cv_verify('CA', '1052183', max_age => '0');
SELECT from_cache FROM cv_verify('CA', '1052183', max_age => '1 hour');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls;

-- Once expired, the entry is fetched again.
UPDATE contractor_verify.license_cache SET expires_at = now() - interval '1 second'
WHERE license_number = '1052183';
SELECT from_cache FROM cv_verify('CA', '1052183');
SELECT expires_at > now() + interval '23 hours' AS refreshed FROM contractor_verify.license_cache
WHERE license_number = '1052183';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls;

-- A suspension imposed at the board: the flagged TTL (4h) applies to a record
-- with disciplinary actions or a status other than ACTIVE.
\set _ `test/simctl license CA 1052183 status=SUSPENDED`
SELECT license_status, compliant, from_cache FROM cv_verify('CA', '1052183', max_age => '0');
SELECT expires_at - fetched_at AS ttl FROM contractor_verify.license_cache
WHERE license_number = '1052183';
\set _ `test/simctl license CA 2345678 status=ACTIVE 'disciplinary_actions=[{"date":"2025-03-01","type":"CITATION","description":"Unlicensed subcontractor"}]'`
SELECT license_status, has_disciplinary_actions, disciplinary_actions->0->>'type' AS action
FROM cv_verify('CA', '2345678');
SELECT expires_at - fetched_at AS ttl FROM contractor_verify.license_cache
WHERE license_number = '2345678';

-- Server options change the TTLs.
ALTER SERVER cv_sim OPTIONS (ADD cache_ttl '30min');
\set _ `test/simctl reset`
SELECT license_status, from_cache FROM cv_verify('CA', '1052183', max_age => '0');
SELECT expires_at - fetched_at AS ttl FROM contractor_verify.license_cache
WHERE license_number = '1052183';

-- An error never overwrites a verified record: after a STATE_TIMEOUT the
-- cached record stays, and the row returned shows it beside the error.
\set _ `test/simctl license CA 1052183 outcome=STATE_TIMEOUT`
SELECT license_status, business_name, compliant, error_code, from_cache,
       verified_at < now() AS verified_earlier
FROM cv_verify('CA', '1052183', max_age => '0');
SELECT outcome, license_status, last_error_code, consecutive_timeouts
FROM contractor_verify.license_cache WHERE license_number = '1052183';

-- NOT_FOUND after a verified record keeps the record and asks for review.
\set _ `test/simctl license CA 1052183 outcome=NOT_FOUND`
SELECT license_status, error_code, from_cache, needs_review
FROM cv_verify('CA', '1052183', max_age => '0');
SELECT outcome, license_status, last_error_code, needs_review, review_reason
FROM contractor_verify.license_cache WHERE license_number = '1052183';

-- A verified answer clears the error state.
\set _ `test/simctl reset`
SELECT license_status, error_code, from_cache, needs_review
FROM cv_verify('CA', '1052183', max_age => '0');
SELECT outcome, last_error_code, consecutive_timeouts, needs_review
FROM contractor_verify.license_cache WHERE license_number = '1052183';

-- The view computes compliance at query time: a license that expired
-- yesterday is not compliant today, whatever the cache says.
UPDATE contractor_verify.license_cache SET expiration_date = current_date - 1
WHERE license_number = '1052183';
SELECT license_status, compliant, compliance_reason, days_to_expiration
FROM contractor_verify.licenses WHERE license_number = '1052183';
SELECT compliant, from_cache FROM cv_verify('CA', '1052183');

DROP SERVER cv_sim CASCADE;
