-- contractor_verify 0.3.0 -> 0.4.0
--   * the history's btree of charged rows per account goes: it was read once
--     per account and month after a server start (the month's charges, which
--     the BRIN index on observed_at finds) and cost an index entry for every
--     answer recorded.
\echo Use "ALTER EXTENSION contractor_verify UPDATE" to load this file. \quit

DROP INDEX contractor_verify.verification_history_charged;
