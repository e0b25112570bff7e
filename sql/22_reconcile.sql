-- The reconciliation patterns the README shows: one INSERT ... ON CONFLICT
-- (and a MERGE) from cv_verify_batch into an application table. Success
-- updates status, expiration, classifications, verified_at and the
-- disciplinary flag; failure updates only the last attempt and error code.
\i sql/include/setup.psql

CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key :'sim_key');

CREATE TABLE contractors (
    id          text PRIMARY KEY,
    state       text,
    license_no  text,
    active      boolean NOT NULL DEFAULT true
);
INSERT INTO contractors (id, state, license_no)
SELECT 'c' || i, 'CA', (700000 + i)::text FROM generate_series(1, 20) AS i;
INSERT INTO contractors VALUES ('c21', 'ZZ', '1', true), ('c22', 'CA', '1052183', true),
                               ('c23', 'CA', '1052183', false);

CREATE TABLE contractor_licenses (
    contractor_id            text PRIMARY KEY REFERENCES contractors,
    state                    text,
    license_number           text,
    license_status           text,
    expiration_date          date,
    classifications          text[],
    verified_at              timestamptz,
    has_disciplinary_actions boolean,
    last_attempt_at          timestamptz,
    error_code               text
);

-- The upsert.
INSERT INTO contractor_licenses AS l
       (contractor_id, state, license_number, license_status, expiration_date, classifications,
        verified_at, has_disciplinary_actions, last_attempt_at, error_code)
SELECT v.id, v.state, v.license_number, v.license_status, v.expiration_date, v.classifications,
       v.verified_at, v.has_disciplinary_actions, now(), v.error_code
FROM cv_verify_batch($$SELECT id, state, license_no FROM contractors WHERE active$$) AS v
ON CONFLICT (contractor_id) DO UPDATE SET
    license_status           = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.license_status ELSE l.license_status END,
    expiration_date          = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.expiration_date ELSE l.expiration_date END,
    classifications          = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.classifications ELSE l.classifications END,
    verified_at              = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.verified_at ELSE l.verified_at END,
    has_disciplinary_actions = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.has_disciplinary_actions ELSE l.has_disciplinary_actions END,
    last_attempt_at          = EXCLUDED.last_attempt_at,
    error_code               = EXCLUDED.error_code;

SELECT count(*) AS rows, count(*) FILTER (WHERE error_code IS NULL) AS verified,
       count(*) FILTER (WHERE error_code = 'INVALID_INPUT') AS invalid_input
FROM contractor_licenses;
SELECT contractor_id, license_status, error_code FROM contractor_licenses
WHERE contractor_id IN ('c5', 'c6', 'c21', 'c22') ORDER BY contractor_id;

-- At the board: c5's license is suspended, c6's board stops answering.
\set _ `test/simctl license CA 700005 status=SUSPENDED`
\set _ `test/simctl license CA 700006 outcome=STATE_TIMEOUT`
CREATE TEMP TABLE before AS SELECT * FROM contractor_licenses;

-- The MERGE variant, asking for fresh data.
MERGE INTO contractor_licenses AS l
USING cv_verify_batch($$SELECT id, state, license_no FROM contractors WHERE active$$,
                      max_age => '0') AS v
   ON l.contractor_id = v.id
WHEN MATCHED AND v.error_code IS NULL THEN UPDATE SET
    license_status = v.license_status, expiration_date = v.expiration_date,
    classifications = v.classifications, verified_at = v.verified_at,
    has_disciplinary_actions = v.has_disciplinary_actions,
    last_attempt_at = now(), error_code = NULL
WHEN MATCHED THEN UPDATE SET last_attempt_at = now(), error_code = v.error_code
WHEN NOT MATCHED THEN INSERT
    (contractor_id, state, license_number, license_status, expiration_date, classifications,
     verified_at, has_disciplinary_actions, last_attempt_at, error_code)
    VALUES (v.id, v.state, v.license_number, v.license_status, v.expiration_date,
            v.classifications, v.verified_at, v.has_disciplinary_actions, now(), v.error_code);

-- c5: the suspension is recorded. c6: the timeout changes only the attempt and
-- error code; its known-good status and verified_at stay.
SELECT l.contractor_id, b.license_status AS was, l.license_status AS now,
       l.error_code, l.verified_at = b.verified_at AS verified_at_kept,
       l.last_attempt_at > b.last_attempt_at AS attempt_noted
FROM contractor_licenses l JOIN before b USING (contractor_id)
WHERE l.contractor_id IN ('c5', 'c6') ORDER BY 1;

-- Contractors who were compliant and no longer are: the alert list.
SELECT l.contractor_id, b.license_status AS was, l.license_status AS now
FROM contractor_licenses l JOIN before b USING (contractor_id)
WHERE b.license_status = 'ACTIVE' AND l.license_status IS DISTINCT FROM 'ACTIVE';

DROP TABLE contractor_licenses, contractors;
DROP SERVER contractor_verify CASCADE;
