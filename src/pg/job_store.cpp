#include "pg/core_first.h"
#include "core/error.h"

#include <nlohmann/json.hpp>

#include "pg/job_store.h"

#include "pg/cache_table.h"
#include "pg/guard.h"
#include "pg/memory_scope.h"
#include "pg/result_row.h"
#include "pg/roster.h"
#include "pg/server_context.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace cv::pg {

namespace {

// Every name is schema-qualified and every statement runs as the owner with
// the pinned search_path.
constexpr const char* kInsertJobSql =
    "INSERT INTO contractor_verify.job_queue"
    " (label, submitted_by, server_name, api_url, api_key_id, max_age, total_entities,"
    "  invalid_entities, processed_entities, failed_entities, lookups_total, lookups_needed,"
    "  submitter, submitter_cluster)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9, $10, $11, contractor_verify.cluster_id())"
    " RETURNING id";

constexpr const char* kInsertLookupsSql =
    "INSERT INTO contractor_verify.job_lookups"
    " (job_id, lookup_no, state, license_number, lookup_name, roster_rows)"
    " SELECT $1, l.lookup_no, l.state, l.license_number, l.lookup_name, l.roster_rows"
    " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int4[]), pg_catalog.unnest($3::pg_catalog.text[]),"
    "  pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]),"
    "  pg_catalog.unnest($6::pg_catalog.int4[]))"
    "  AS l(lookup_no, state, license_number, lookup_name, roster_rows)";

constexpr const char* kInsertRowsSql =
    "INSERT INTO contractor_verify.job_rows"
    " (job_id, row_no, caller_id, lookup_no, state, license_number, error_message)"
    " SELECT $1, r.row_no, r.caller_id, r.lookup_no, r.state, r.license_number, r.error_message"
    " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int4[]), pg_catalog.unnest($3::pg_catalog.text[]),"
    "  pg_catalog.unnest($4::pg_catalog.int4[]), pg_catalog.unnest($5::pg_catalog.text[]),"
    "  pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.text[]))"
    "  AS r(row_no, caller_id, lookup_no, state, license_number, error_message)";

constexpr const char* kHeldSql =
    "SELECT COALESCE(pg_catalog.sum(pg_catalog.int8larger(0, j.lookups_needed OPERATOR(pg_catalog.-) j.lookups_done)), 0)::pg_catalog.int8"
    " FROM contractor_verify.job_queue j"
    " WHERE j.status OPERATOR(pg_catalog.=) 'queued'"
    "   AND j.api_url OPERATOR(pg_catalog.=) $1 AND j.api_key_id OPERATOR(pg_catalog.=) $2"
    "   AND NOT EXISTS (SELECT FROM contractor_verify.job_cancels c WHERE c.job_id OPERATOR(pg_catalog.=) j.id)";

constexpr const char* kOwnershipSql =
    "SELECT j.submitted_by::pg_catalog.text, j.status,"
    "  COALESCE(contractor_verify.job_owner(j.submitted_by, j.submitter, j.submitter_cluster), 0)"
    " FROM contractor_verify.job_queue j WHERE j.id OPERATOR(pg_catalog.=) $1";

// A request only: the caller's transaction locks nothing the worker writes.
constexpr const char* kCancelSql =
    "INSERT INTO contractor_verify.job_cancels (job_id, requested_by) VALUES ($1, $2)";

// Queued jobs with a committed cancel request end without running.
constexpr const char* kCancelQueuedSql =
    "UPDATE contractor_verify.job_queue j SET status = 'cancelled', cancel_requested = true,"
    "  completed_at = pg_catalog.now(), updated_at = pg_catalog.now(), estimated_completion = NULL"
    " WHERE j.status OPERATOR(pg_catalog.=) 'queued'"
    "   AND EXISTS (SELECT FROM contractor_verify.job_cancels c WHERE c.job_id OPERATOR(pg_catalog.=) j.id)"
    " RETURNING j.id";

constexpr const char* kNextJobSql =
    "SELECT j.id, j.submitted_by::pg_catalog.text, j.server_name,"
    "  (pg_catalog.date_part('epoch', j.max_age) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8,"
    "  j.status, j.calls, j.rate_limited, j.lookups_needed, j.lookups_done, j.runs,"
    "  COALESCE(contractor_verify.job_owner(j.submitted_by, j.submitter, j.submitter_cluster), 0),"
    "  (pg_catalog.date_part('epoch', j.created_at) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8"
    " FROM contractor_verify.job_queue j"
    " WHERE j.status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'processing'])"
    " ORDER BY j.id LIMIT 1";

constexpr const char* kStartSql =
    "WITH s AS (UPDATE contractor_verify.job_queue j SET status = 'processing', runs = j.runs OPERATOR(pg_catalog.+) 1,"
    "  started_at = COALESCE(j.started_at, pg_catalog.now()), updated_at = pg_catalog.now()"
    "  WHERE j.id OPERATOR(pg_catalog.=) $1 RETURNING j.id)"
    " SELECT pg_catalog.count(*)::pg_catalog.int8 FROM contractor_verify.job_lookups l"
    " WHERE l.job_id OPERATOR(pg_catalog.=) (SELECT s.id FROM s) AND l.answered_at IS NULL";

constexpr const char* kPendingSql =
    "SELECT l.lookup_no, l.state, l.license_number, l.lookup_name FROM contractor_verify.job_lookups l"
    " WHERE l.job_id OPERATOR(pg_catalog.=) $1 AND l.lookup_no OPERATOR(pg_catalog.>) $2"
    "   AND l.answered_at IS NULL"
    " ORDER BY l.lookup_no LIMIT $3";

// $3 is cv_result[] (typed by the plan's parameter, not by name); its
// elements are taken by subscript, since a composite unnested in FROM would
// come apart into its columns.
constexpr const char* kStoreSql =
    "WITH u AS ("
    "  UPDATE contractor_verify.job_lookups l SET answered_at = pg_catalog.now(), result = a.result"
    "  FROM (SELECT ($2::pg_catalog.int4[])[i] AS lookup_no, ($3)[i] AS result"
    "        FROM pg_catalog.generate_subscripts($2::pg_catalog.int4[], 1) AS i) AS a"
    "  WHERE l.job_id OPERATOR(pg_catalog.=) $1 AND l.lookup_no OPERATOR(pg_catalog.=) a.lookup_no"
    "    AND l.answered_at IS NULL"
    "  RETURNING l.roster_rows, (a.result).error_code AS code, COALESCE((a.result).from_cache, false) AS cached),"
    " s AS (SELECT COALESCE(pg_catalog.sum(u.roster_rows), 0) AS rows_done,"
    "  COALESCE(pg_catalog.sum(u.roster_rows) FILTER (WHERE u.code OPERATOR(pg_catalog.=) ANY ($4::pg_catalog.text[])), 0) AS rows_failed,"
    "  pg_catalog.count(*) FILTER (WHERE NOT u.cached AND (u.code IS NULL OR u.code OPERATOR(pg_catalog.<>) ALL ($4::pg_catalog.text[]))) AS bought,"
    "  pg_catalog.count(*) FILTER (WHERE u.cached) AS from_cache FROM u)"
    " UPDATE contractor_verify.job_queue j SET"
    "  processed_entities = j.processed_entities OPERATOR(pg_catalog.+) s.rows_done,"
    "  failed_entities = j.failed_entities OPERATOR(pg_catalog.+) s.rows_failed,"
    "  completed_entities = j.completed_entities OPERATOR(pg_catalog.+) (s.rows_done OPERATOR(pg_catalog.-) s.rows_failed),"
    "  lookups_done = j.lookups_done OPERATOR(pg_catalog.+) s.bought,"
    "  answered_from_cache = j.answered_from_cache OPERATOR(pg_catalog.+) s.from_cache,"
    "  calls = $5, rate_limited = $6, estimated_completion = $7, updated_at = pg_catalog.now()"
    " FROM s WHERE j.id OPERATOR(pg_catalog.=) $1";

constexpr const char* kCancelRequestedSql =
    "SELECT j.cancel_requested OR j.status OPERATOR(pg_catalog.<>) 'processing'"
    "  OR EXISTS (SELECT FROM contractor_verify.job_cancels c WHERE c.job_id OPERATOR(pg_catalog.=) j.id)"
    " FROM contractor_verify.job_queue j WHERE j.id OPERATOR(pg_catalog.=) $1";

constexpr const char* kFinishSql =
    "UPDATE contractor_verify.job_queue j SET status = $2, error_code = $3, error_message = $4,"
    "  cancel_requested = j.cancel_requested OR $2 OPERATOR(pg_catalog.=) 'cancelled',"
    "  completed_at = pg_catalog.now(), updated_at = pg_catalog.now(), estimated_completion = NULL"
    " WHERE j.id OPERATOR(pg_catalog.=) $1";

constexpr const char* kUnfinishedSql =
    "SELECT EXISTS (SELECT FROM contractor_verify.job_queue j"
    "  WHERE j.status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'processing']))";

constexpr const char* kDeleteSql =
    "WITH old AS (DELETE FROM contractor_verify.job_queue j"
    "   WHERE j.completed_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1)"
    "   RETURNING j.id),"
    " l AS (DELETE FROM contractor_verify.job_lookups x USING old WHERE x.job_id OPERATOR(pg_catalog.=) old.id),"
    " r AS (DELETE FROM contractor_verify.job_rows x USING old WHERE x.job_id OPERATOR(pg_catalog.=) old.id),"
    " c AS (DELETE FROM contractor_verify.job_cancels x USING old WHERE x.job_id OPERATOR(pg_catalog.=) old.id)"
    " SELECT pg_catalog.count(*)::pg_catalog.int8 FROM old";

SPIPlanPtr insert_job_plan, insert_lookups_plan, insert_rows_plan, held_plan, ownership_plan,
    cancel_plan, cancel_queued_plan, next_job_plan, start_plan, pending_plan, store_plan, cancel_requested_plan,
    finish_plan, unfinished_plan, delete_plan;
Oid store_plan_type = InvalidOid;  // the cv_result array type store_plan was made for

constexpr int kPage = 10000;

Datum int8_datum(std::int64_t v) { return Int64GetDatum(v); }

Datum name_datum(const std::string& s) {
    return pg_value([&] { return DirectFunctionCall1(namein, CStringGetDatum(s.c_str())); });
}

void execute(SPIPlanPtr plan, Datum* values, const char* nulls, int expected) {
    pg_call([&] {
        const int rc = SPI_execute_plan(plan, values, nulls, false, 0);
        if (rc != expected) elog(ERROR, "contractor_verify: job statement failed: %s", SPI_result_code_string(rc));
    });
}

std::string text_of(Datum d) {
    if (d == 0) return {};
    return pg_value([&] { return text_to_cstring(DatumGetTextPP(d)); });
}

const char* const kUnansweredCodes[] = {"CALL_FAILED", "MISSING_RESULT", "MALFORMED_RESULT",
                                        "NOT_RECORDED", "INVALID_INPUT"};

}  // namespace

bool is_unanswered_code(const std::string& code) {
    for (const char* c : kUnansweredCodes)
        if (code == c) return true;
    return false;
}

void notify_job(std::int64_t id, const std::string& status) {
    const std::string payload = nlohmann::json{{"job_id", id}, {"status", status}}.dump();
    pg_call([&] { Async_Notify(kJobChannel, payload.c_str()); });
}

std::int64_t insert_job(const ExtensionCatalog& catalog, const ServerContext& ctx,
                        const JobSubmission& job, Roster& roster) {
    std::int64_t id = 0;
    const auto& lookups = roster.lookups();
    with_owner_spi(catalog.owner, [&] {
        {
            Oid types[11] = {TEXTOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID,
                             INT8OID, INT8OID, INT8OID, INT8OID, OIDOID};
            SPIPlanPtr plan = kept_plan(insert_job_plan, kInsertJobSql, 11, types);
            Datum values[11] = {job.label.empty() ? 0 : utf8_text(job.label),
                                name_datum(ctx.role_name),
                                utf8_text(ctx.server_name),
                                utf8_text(ctx.settings.url),
                                utf8_text(ctx.api_key_id),
                                0,
                                int8_datum(roster.rows()),
                                int8_datum(roster.invalid()),
                                int8_datum(static_cast<std::int64_t>(lookups.size())),
                                int8_datum(job.lookups_needed),
                                ObjectIdGetDatum(ctx.role_oid)};
            char nulls[12] = "           ";
            if (job.label.empty()) nulls[0] = 'n';
            if (job.max_age_ms) {
                values[5] = interval_datum(*job.max_age_ms);
            } else {
                nulls[5] = 'n';
            }
            auto rows = run_rows(plan, values, nulls, {true});
            id = DatumGetInt64(rows.at(0)[0]);
        }
        const Datum job_id = int8_datum(id);
        // The distinct lookups, a page at a time.
        for (std::size_t first = 0; first < lookups.size(); first += kPage) {
            ArrayBuilder no(INT4OID), state(TEXTOID), number(TEXTOID), name(TEXTOID), rows(INT4OID);
            const std::size_t end = std::min(lookups.size(), first + kPage);
            for (std::size_t i = first; i < end; ++i) {
                no.push(Int32GetDatum(static_cast<std::int32_t>(i + 1)));
                state.push_text(lookups[i].state);
                number.push_text(lookups[i].license_number);
                name.push_text(lookups[i].license_number.empty() ? lookups[i].name : "");
                rows.push(Int32GetDatum(static_cast<std::int32_t>(roster.rows_of(i))));
            }
            Oid types[6] = {INT8OID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
            SPIPlanPtr plan = kept_plan(insert_lookups_plan, kInsertLookupsSql, 6, types);
            Datum values[6] = {job_id, no.datum(), state.datum(), number.datum(), name.datum(), rows.datum()};
            execute(plan, values, nullptr, SPI_OK_INSERT);
        }
        // The roster rows in input order, a page at a time in memory of its own.
        MemoryContext page = nullptr;
        pg_call([&] {
            page = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify job rows", ALLOCSET_DEFAULT_SIZES);
        });
        ArrayBuilder no(INT4OID), caller(TEXTOID), lookup(INT4OID), state(TEXTOID), number(TEXTOID), error(TEXTOID);
        auto flush = [&] {
            if (no.size() == 0) return;
            Oid types[7] = {INT8OID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
            SPIPlanPtr plan = kept_plan(insert_rows_plan, kInsertRowsSql, 7, types);
            {
                MemoryScope in_page(page);
                Datum values[7] = {job_id, no.datum(), caller.datum(), lookup.datum(), state.datum(), number.datum(), error.datum()};
                execute(plan, values, nullptr, SPI_OK_INSERT);
            }
            for (ArrayBuilder* b : {&no, &caller, &lookup, &state, &number, &error}) b->clear();
            pg_call([&] { MemoryContextReset(page); });
        };
        std::int32_t row_no = 0;
        roster.for_each([&](const Roster::Row& r) {
            MemoryScope in_page(page);
            no.push(Int32GetDatum(++row_no));
            if (r.id_null)
                caller.push_null();
            else
                caller.push(pg_value([&] { return datumCopy(r.id, false, -1); }));
            if (r.lookup >= 0) {
                lookup.push(Int32GetDatum(static_cast<std::int32_t>(r.lookup + 1)));
                state.push_null();
                number.push_null();
                error.push_null();
            } else {
                lookup.push_null();
                state.push_text(r.state);
                number.push_text(r.license_number);
                error.push_text(r.error);
            }
            if (no.size() == static_cast<std::size_t>(kPage)) flush();
        });
        flush();
    });
    return id;
}

std::int64_t lookups_held_by_jobs(const ExtensionCatalog& catalog, const std::string& api_url,
                                  const std::string& api_key_id) {
    std::int64_t held = 0;
    with_owner_spi(catalog.owner, [&] {
        Oid types[2] = {TEXTOID, TEXTOID};
        SPIPlanPtr plan = kept_plan(held_plan, kHeldSql, 2, types);
        Datum values[2] = {utf8_text(api_url), utf8_text(api_key_id)};
        held = DatumGetInt64(run_rows(plan, values, nullptr, {true}).at(0)[0]);
    });
    return held;
}

std::optional<JobOwnership> job_ownership(const ExtensionCatalog& catalog, std::int64_t id) {
    std::optional<JobOwnership> out;
    with_owner_spi(catalog.owner, [&] {
        Oid types[1] = {INT8OID};
        SPIPlanPtr plan = kept_plan(ownership_plan, kOwnershipSql, 1, types);
        Datum values[1] = {int8_datum(id)};
        auto rows = run_rows(plan, values, nullptr, {false, false, true});
        if (!rows.empty()) out = JobOwnership{text_of(rows[0][0]), text_of(rows[0][1]), DatumGetObjectId(rows[0][2])};
    });
    return out;
}

void request_cancel(const ExtensionCatalog& catalog, std::int64_t id, const std::string& requested_by) {
    with_owner_spi(catalog.owner, [&] {
        Oid types[2] = {INT8OID, NAMEOID};
        SPIPlanPtr plan = kept_plan(cancel_plan, kCancelSql, 2, types);
        Datum values[2] = {int8_datum(id), name_datum(requested_by)};
        execute(plan, values, nullptr, SPI_OK_INSERT);
    });
}

void cancel_queued_jobs(const ExtensionCatalog& catalog) {
    std::vector<std::int64_t> ids;
    with_owner_spi(catalog.owner, [&] {
        SPIPlanPtr plan = kept_plan(cancel_queued_plan, kCancelQueuedSql, 0, nullptr);
        for (const auto& row : run_rows(plan, nullptr, nullptr, {true})) ids.push_back(DatumGetInt64(row[0]));
    });
    for (std::int64_t id : ids) notify_job(id, "cancelled");
}

std::optional<JobRow> next_job(const ExtensionCatalog& catalog) {
    std::optional<JobRow> out;
    with_owner_spi(catalog.owner, [&] {
        SPIPlanPtr plan = kept_plan(next_job_plan, kNextJobSql, 0, nullptr);
        uint64 n = 0;
        pg_call([&] {
            if (SPI_execute_plan(plan, nullptr, nullptr, false, 1) != SPI_OK_SELECT)
                elog(ERROR, "contractor_verify: could not read the job queue");
            n = SPI_processed;
        });
        if (n == 0) return;
        JobRow j;
        pg_call([&] {
            HeapTuple t = SPI_tuptable->vals[0];
            TupleDesc d = SPI_tuptable->tupdesc;
            bool isnull = false;
            j.id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
            j.submitted_by = SPI_getvalue(t, d, 2);
            j.server_name = SPI_getvalue(t, d, 3);
            const Datum age = SPI_getbinval(t, d, 4, &isnull);
            if (!isnull) j.max_age_ms = DatumGetInt64(age);
            j.status = SPI_getvalue(t, d, 5);
            j.calls = DatumGetInt64(SPI_getbinval(t, d, 6, &isnull));
            j.rate_limited = DatumGetInt64(SPI_getbinval(t, d, 7, &isnull));
            j.lookups_needed = DatumGetInt64(SPI_getbinval(t, d, 8, &isnull));
            j.lookups_done = DatumGetInt64(SPI_getbinval(t, d, 9, &isnull));
            j.runs = DatumGetInt32(SPI_getbinval(t, d, 10, &isnull));
            j.owner = DatumGetObjectId(SPI_getbinval(t, d, 11, &isnull));
            j.created_ms = DatumGetInt64(SPI_getbinval(t, d, 12, &isnull));
        });
        out = std::move(j);
    });
    return out;
}

bool has_unfinished_jobs(const ExtensionCatalog& catalog) {
    bool any = false;
    with_owner_spi(catalog.owner, [&] {
        SPIPlanPtr plan = kept_plan(unfinished_plan, kUnfinishedSql, 0, nullptr);
        any = DatumGetBool(run_rows(plan, nullptr, nullptr, {true}).at(0)[0]);
    });
    return any;
}

std::int64_t start_job(const ExtensionCatalog& catalog, std::int64_t id) {
    std::int64_t pending = 0;
    with_owner_spi(catalog.owner, [&] {
        Oid types[1] = {INT8OID};
        SPIPlanPtr plan = kept_plan(start_plan, kStartSql, 1, types);
        Datum values[1] = {int8_datum(id)};
        pending = DatumGetInt64(run_rows(plan, values, nullptr, {true}).at(0)[0]);
    });
    return pending;
}

std::vector<core::LookupItem> pending_lookups(const ExtensionCatalog& catalog, std::int64_t id,
                                              std::int64_t after, int limit) {
    std::vector<core::LookupItem> out;
    with_owner_spi(catalog.owner, [&] {
        Oid types[3] = {INT8OID, INT4OID, INT8OID};
        SPIPlanPtr plan = kept_plan(pending_plan, kPendingSql, 3, types);
        Datum values[3] = {int8_datum(id), Int32GetDatum(static_cast<std::int32_t>(after)), int8_datum(limit)};
        auto rows = run_rows(plan, values, nullptr, {true, false, false, false});
        out.reserve(rows.size());
        for (const auto& r : rows) {
            core::LookupItem item;
            item.lookup_id = std::to_string(DatumGetInt32(r[0]));
            item.state = text_of(r[1]);
            item.license_number = text_of(r[2]);
            item.name = text_of(r[3]);
            out.push_back(std::move(item));
        }
    });
    return out;
}

void store_answers(const ExtensionCatalog& catalog, std::int64_t id,
                   const std::vector<std::int32_t>& lookup_nos, const std::vector<Datum>& results,
                   const JobProgress& progress) {
    const Oid array_type = pg_value([&] { return get_array_type(catalog.result_type); });
    ArrayBuilder nos(INT4OID), rows(catalog.result_type), unanswered(TEXTOID);
    for (std::size_t i = 0; i < lookup_nos.size(); ++i) {
        nos.push(Int32GetDatum(lookup_nos[i]));
        rows.push(results[i]);
    }
    for (const char* c : kUnansweredCodes) unanswered.push_text(c);
    with_owner_spi(catalog.owner, [&] {
        if (store_plan != nullptr && store_plan_type != array_type) {
            // The extension was created again: its row type has a new OID.
            pg_call([] { SPI_freeplan(store_plan); });
            store_plan = nullptr;
        }
        Oid types[7] = {INT8OID, INT4ARRAYOID, array_type, TEXTARRAYOID, INT8OID, INT8OID, TIMESTAMPTZOID};
        SPIPlanPtr plan = kept_plan(store_plan, kStoreSql, 7, types);
        store_plan_type = array_type;
        Datum values[7] = {int8_datum(id), nos.datum(), rows.datum(), unanswered.datum(),
                           int8_datum(progress.calls), int8_datum(progress.rate_limited), 0};
        char nulls[8] = "       ";
        if (progress.estimated_completion_ms)
            values[6] = TimestampTzGetDatum(unix_ms_to_timestamptz(*progress.estimated_completion_ms));
        else
            nulls[6] = 'n';
        execute(plan, values, nulls, SPI_OK_UPDATE);
    });
}

bool cancel_requested(const ExtensionCatalog& catalog, std::int64_t id) {
    bool requested = false;
    with_owner_spi(catalog.owner, [&] {
        Oid types[1] = {INT8OID};
        SPIPlanPtr plan = kept_plan(cancel_requested_plan, kCancelRequestedSql, 1, types);
        Datum values[1] = {int8_datum(id)};
        auto rows = run_rows(plan, values, nullptr, {true});
        // A job that vanished (deleted by its owner) is as good as cancelled.
        requested = rows.empty() || DatumGetBool(rows[0][0]);
    });
    return requested;
}

void finish_job(const ExtensionCatalog& catalog, std::int64_t id, const std::string& status,
                const std::string& error_code, const std::string& error_message) {
    with_owner_spi(catalog.owner, [&] {
        Oid types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
        SPIPlanPtr plan = kept_plan(finish_plan, kFinishSql, 4, types);
        Datum values[4] = {int8_datum(id), utf8_text(status), error_code.empty() ? 0 : utf8_text(error_code),
                           error_message.empty() ? 0 : utf8_text(error_message)};
        char nulls[5] = "    ";
        if (error_code.empty()) nulls[2] = 'n';
        if (error_message.empty()) nulls[3] = 'n';
        execute(plan, values, nulls, SPI_OK_UPDATE);
    });
    notify_job(id, status);
}

std::int64_t delete_finished_jobs(const ExtensionCatalog& catalog, std::int64_t retention_ms) {
    std::int64_t deleted = 0;
    with_owner_spi(catalog.owner, [&] {
        Oid types[1] = {INTERVALOID};
        SPIPlanPtr plan = kept_plan(delete_plan, kDeleteSql, 1, types);
        Datum values[1] = {interval_datum(retention_ms)};
        deleted = DatumGetInt64(run_rows(plan, values, nullptr, {true}).at(0)[0]);
    });
    return deleted;
}

}  // namespace cv::pg
