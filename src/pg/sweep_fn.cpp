// cv_sweep(roster, budget, server, label): re-verifies the roster's licenses
// that are due, as a job. The roster query runs first with the caller's
// rights (as cv_verify_batch's does); which licenses are due is decided as
// the owner by contractor_verify.reverify_due over the cache, in priority
// order (never verified, soonest expiring, not active, oldest); the job gets
// as many as the budget and the month's quota allow, looked up afresh
// (max_age 0). What the sweep did is kept in contractor_verify.sweeps and
// returned.
#include "pg/core_first.h"
#include "core/error.h"
#include "core/quota.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/job_store.h"
#include "pg/jsonb_build.h"
#include "pg/quota_guard.h"
#include "pg/result_row.h"
#include "pg/roster.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"
#include "pg/spi.h"
#include "pg/storage.h"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
}

namespace {

using cv::core::Error;
using cv::core::ErrorKind;

// Each distinct license's verdict, most urgent first. A license still
// waiting in an unfinished job of the API (an earlier sweep's, say) is not
// due again: that job buys it, and a second job would buy it once more.
constexpr const char* kDueSql =
    "SELECT k.i, d.due_at OPERATOR(pg_catalog.<=) pg_catalog.now() AS due, d.due_at IS NULL AS in_review,"
    "  w.state IS NOT NULL AS waiting"
    " FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int4[]), pg_catalog.unnest($2::pg_catalog.text[]),"
    "  pg_catalog.unnest($3::pg_catalog.text[])) AS k(i, state, license_number)"
    " LEFT JOIN contractor_verify.license_cache c ON c.api_url OPERATOR(pg_catalog.=) $4"
    "  AND c.state OPERATOR(pg_catalog.=) k.state AND c.license_number OPERATOR(pg_catalog.=) k.license_number"
    " LEFT JOIN (SELECT DISTINCT l.state, l.license_number FROM contractor_verify.job_lookups l"
    "   JOIN contractor_verify.job_queue j ON j.id OPERATOR(pg_catalog.=) l.job_id"
    "   WHERE j.status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'processing'])"
    "     AND j.api_url OPERATOR(pg_catalog.=) $4 AND l.answered_at IS NULL AND l.license_number IS NOT NULL) w"
    "  ON w.state OPERATOR(pg_catalog.=) k.state AND w.license_number OPERATOR(pg_catalog.=) k.license_number"
    " CROSS JOIN LATERAL contractor_verify.reverify_due(c.outcome, c.license_status, c.expiration_date,"
    "  c.fetched_at, c.last_attempt_at, c.last_error_code, c.consecutive_timeouts, c.next_attempt_at,"
    "  COALESCE(c.needs_review, false), $5, $6, $7, $8, $9) AS d"
    " ORDER BY d.priority NULLS LAST,"
    "  CASE WHEN d.priority OPERATOR(pg_catalog.=) 2 THEN c.expiration_date END NULLS LAST,"
    "  GREATEST(c.fetched_at, c.last_attempt_at) NULLS FIRST, k.i";

constexpr const char* kRecordSql =
    "INSERT INTO contractor_verify.sweeps (ran_by, server_name, label, roster_rows, licenses, due,"
    "  submitted, left_for_budget, left_for_quota, not_due, in_review, skipped_rows, job_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *";

SPIPlanPtr due_plan, record_plan;

struct Verdicts {
    std::vector<std::size_t> due;  // lookup indexes, most urgent first
    std::int64_t not_due = 0, in_review = 0;
};

// One sweep at a time, until its transaction ends: a sweep then sees the job
// an earlier one queued (its statements read what committed before them) and
// leaves that job's licenses to it. Only the owner can take this lock, so no
// other role can hold sweeps back with it.
constexpr const char* kLockSql = "LOCK TABLE contractor_verify.sweeps IN SHARE ROW EXCLUSIVE MODE";

Verdicts classify(const cv::pg::ExtensionCatalog& catalog, const cv::pg::ServerContext& ctx,
                  const cv::pg::Roster& roster) {
    Verdicts v;
    cv::pg::with_owner_spi(catalog.owner, [&] {
        cv::pg::pg_call([&] {
            if (SPI_execute(kLockSql, false, 0) != SPI_OK_UTILITY)
                elog(ERROR, "contractor_verify: could not lock the sweeps");
        });
    });
    cv::pg::ArrayBuilder index(INT4OID), state(TEXTOID), number(TEXTOID);
    const auto& lookups = roster.lookups();
    for (std::size_t i = 0; i < lookups.size(); ++i) {
        if (lookups[i].license_number.empty()) continue;  // by name: nothing to schedule
        index.push(Int32GetDatum(static_cast<std::int32_t>(i)));
        state.push_text(lookups[i].state);
        number.push_text(lookups[i].license_number);
    }
    if (index.size() == 0) return v;
    const auto& p = ctx.settings.reverify;
    cv::pg::with_owner_spi(catalog.owner, [&] {
        Oid types[9] = {INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID,
                        INTERVALOID, INTERVALOID, INTERVALOID, INTERVALOID, INTERVALOID};
        SPIPlanPtr plan = cv::pg::kept_plan(due_plan, kDueSql, 9, types);
        Datum values[9] = {index.datum(), state.datum(), number.datum(), cv::pg::utf8_text(ctx.settings.url),
                           cv::pg::interval_datum(p.within_30d.count()), cv::pg::interval_datum(p.within_90d.count()), cv::pg::interval_datum(p.not_active.count()),
                           cv::pg::interval_datum(p.not_found.count()), cv::pg::interval_datum(p.otherwise.count())};
        for (const auto& row : cv::pg::run_rows(plan, values, nullptr, {true, true, true, true})) {
            if (DatumGetBool(row[3]))
                ++v.not_due;  // already waiting in a job
            else if (DatumGetBool(row[1]))
                v.due.push_back(static_cast<std::size_t>(DatumGetInt32(row[0])));
            else if (DatumGetBool(row[2]))
                ++v.in_review;
            else
                ++v.not_due;
        }
    });
    return v;
}

std::string text_of(Datum d) {
    return cv::pg::to_utf8(cv::pg::pg_value([&] { return text_to_cstring(DatumGetTextPP(d)); }));
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_sweep);
Datum cv_sweep(PG_FUNCTION_ARGS);
}

Datum cv_sweep(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (cv::pg::shared_state() == nullptr)
            throw Error(ErrorKind::Prerequisite,
                        "sweeps run as verification jobs, which need contractor_verify in "
                        "shared_preload_libraries",
                        "Add it to shared_preload_libraries in postgresql.conf and restart the server.");
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "the roster query must not be NULL");
        const std::string query = cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        const bool has_budget = !PG_ARGISNULL(1);
        const std::int64_t budget = has_budget ? PG_GETARG_INT64(1) : 0;
        if (budget < 0)
            throw Error(ErrorKind::InvalidParameter, "budget must not be negative",
                        "Pass the most lookups this run may buy, 0 to only report what is due, or "
                        "NULL for no budget of the run's own.");
        const char* server = PG_ARGISNULL(2) ? nullptr : NameStr(*PG_GETARG_NAME(2));
        const std::string label = PG_ARGISNULL(3) ? "" : text_of(PG_GETARG_DATUM(3));

        const cv::pg::ServerContext ctx = cv::pg::load_server_context(server);
        cv::pg::Storage::ensure_writable();

        // The caller's part: the roster, with the caller's rights.
        cv::pg::Roster roster;
        roster.load_query(query);

        // The owner's part.
        const cv::pg::ExtensionCatalog& catalog = cv::pg::extension_catalog();
        const Verdicts verdicts = classify(catalog, ctx, roster);
        const std::int64_t due = static_cast<std::int64_t>(verdicts.due.size());
        std::int64_t take = has_budget ? std::min(due, budget) : due;
        const std::int64_t left_for_budget = due - take;
        std::int64_t left_for_quota = 0;
        if (ctx.settings.monthly_lookup_quota > 0 && take > 0) {
            cv::pg::QuotaReservation account(ctx, catalog);
            const std::int64_t room = std::max<std::int64_t>(
                0, ctx.settings.monthly_lookup_quota - account.spent() -
                       cv::pg::lookups_held_by_jobs(catalog, ctx.settings.url, ctx.api_key_id));
            left_for_quota = take - std::min(take, room);
            take -= left_for_quota;
        }

        // The roster rows of the licenses taken, as a roster of their own.
        std::unordered_set<std::size_t> chosen(verdicts.due.begin(), verdicts.due.begin() + take);
        std::int64_t skipped = roster.invalid();
        const auto& lookups = roster.lookups();
        nlohmann::json rows = nlohmann::json::array();
        roster.for_each([&](const cv::pg::Roster::Row& r) {
            if (r.lookup < 0) return;
            const auto& item = lookups[static_cast<std::size_t>(r.lookup)];
            if (item.license_number.empty()) {
                ++skipped;
                return;
            }
            if (chosen.count(static_cast<std::size_t>(r.lookup)) == 0) return;
            nlohmann::json row = {{"state", item.state}, {"license_number", item.license_number}};
            row["id"] = r.id_null ? nlohmann::json(nullptr) : nlohmann::json(text_of(r.id));
            rows.push_back(std::move(row));
        });
        std::optional<std::int64_t> job_id;
        if (take > 0) {
            cv::pg::Roster swept;
            swept.load_json(cv::pg::json_to_jsonb(rows));
            cv::pg::JobSubmission job;
            job.label = label;
            job.max_age_ms = 0;  // due: looked up afresh whatever the cache's TTLs say
            job.lookups_needed = take;
            job_id = cv::pg::insert_job(catalog, ctx, job, swept);
            cv::pg::wake_job_worker_at_commit(catalog.owner);
        }

        Datum result = 0;
        cv::pg::with_owner_spi(catalog.owner, [&] {
            Oid types[13] = {NAMEOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID,
                             INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
            SPIPlanPtr plan = cv::pg::kept_plan(record_plan, kRecordSql, 13, types);
            const std::int64_t licenses = due + verdicts.not_due + verdicts.in_review;
            Datum values[13] = {
                cv::pg::pg_value([&] { return DirectFunctionCall1(namein, CStringGetDatum(ctx.role_name.c_str())); }),
                cv::pg::utf8_text(ctx.server_name), label.empty() ? 0 : cv::pg::utf8_text(label),
                Int64GetDatum(roster.rows()), Int64GetDatum(licenses), Int64GetDatum(due), Int64GetDatum(take),
                Int64GetDatum(left_for_budget), Int64GetDatum(left_for_quota), Int64GetDatum(verdicts.not_due),
                Int64GetDatum(verdicts.in_review), Int64GetDatum(skipped), Int64GetDatum(job_id.value_or(0))};
            char nulls[14] = "             ";
            if (label.empty()) nulls[2] = 'n';
            if (!job_id) nulls[12] = 'n';
            cv::pg::pg_call([&] {
                if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
                    elog(ERROR, "contractor_verify: could not record the sweep");
                result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc));
            });
        });
        return result;
    });
}
