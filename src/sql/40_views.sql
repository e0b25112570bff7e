-- For analysts: the latest state of every license, with compliance computed
-- at query time.
CREATE VIEW contractor_verify.licenses AS
SELECT c.state,
       c.license_number,
       c.outcome,
       c.license_status,
       c.license_type,
       c.classifications,
       c.business_name,
       c.issue_date,
       c.expiration_date,
       c.expiration_date OPERATOR(pg_catalog.-) CURRENT_DATE AS days_to_expiration,
       c.bond_amount_cents,
       c.insurance_required,
       c.has_disciplinary_actions,
       c.disciplinary_actions,
       c.address,
       contractor_verify.is_compliant(c.license_status, c.expiration_date) AS compliant,
       CASE
           WHEN c.outcome IS NULL THEN 'UNVERIFIED'
           WHEN c.outcome OPERATOR(pg_catalog.<>) 'VERIFIED' THEN c.outcome
           WHEN c.license_status IS DISTINCT FROM 'ACTIVE' THEN COALESCE(c.license_status, 'NO_STATUS')
           WHEN c.expiration_date OPERATOR(pg_catalog.<) CURRENT_DATE THEN 'EXPIRED'
           ELSE 'COMPLIANT'
       END AS compliance_reason,
       c.fetched_at AS verified_at,
       c.expires_at,
       c.expires_at IS NULL OR c.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() AS stale,
       c.last_attempt_at,
       c.last_error_code,
       c.last_error_message,
       c.consecutive_timeouts,
       c.next_attempt_at,
       c.needs_review,
       c.review_reason,
       c.server_name,
       c.api_url
FROM contractor_verify.license_cache c;
COMMENT ON VIEW contractor_verify.licenses IS
    'latest known state of every license; compliant = ACTIVE and not expired as of today';
