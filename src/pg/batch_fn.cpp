// cv_verify_batch(roster text | jsonb, max_age, server, all_or_nothing): a
// whole roster in one statement -- deduplicated, cache first, chunked,
// concurrent, under the cluster-wide rate limit, one result row per input row.
//
// The roster query runs first, with the caller's rights; everything after it
// works on data in this backend's memory and temporary files (Roster,
// ResultStore), never on an object the caller could create or replace.
#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/cache_rules.h"
#include "core/options.h"

#include <nlohmann/json.hpp>
#include "core/error.h"
#include "core/rate_window.h"

#include <optional>
#include <string>

#include "pg/args.h"
#include "pg/cache_table.h"
#include "pg/lookup_set.h"
#include "pg/memory_scope.h"
#include "pg/progress.h"
#include "pg/rate_gate.h"
#include "pg/result_row.h"
#include "pg/result_store.h"
#include "pg/roster.h"
#include "pg/runtime.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"
#include "pg/single_flight.h"
#include "pg/srf.h"
#include "pg/storage.h"

#include "pg/guard.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "utils/builtins.h"
}

namespace {

using cv::core::Error;
using cv::core::ErrorKind;

// One batch at a time per session.
class RunningBatch {
public:
    RunningBatch() {
        if (running_)
            throw Error(ErrorKind::InvalidParameter, "cv_verify_batch cannot be nested",
                        "Run the inner batch first and pass its results as a table.");
        running_ = true;
    }
    ~RunningBatch() { running_ = false; }

private:
    static inline bool running_ = false;
};

// What a statement asks for, from its arguments.
struct BatchRequest {
    std::optional<std::int64_t> max_age;
    const char* server = nullptr;
    cv::core::BatchOptions options;
    bool cache_only = false;  // answer from the cache alone, never call
};

BatchRequest verify_request(FunctionCallInfo fcinfo) {
    BatchRequest r;
    r.max_age = cv::pg::max_age_ms(fcinfo, 1);
    r.server = cv::pg::server_arg(fcinfo, 2);
    r.options.all_or_nothing = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
    return r;
}

BatchRequest cached_request(FunctionCallInfo fcinfo) {
    BatchRequest r;
    r.server = cv::pg::server_arg(fcinfo, 1);
    r.cache_only = true;
    return r;
}

template <typename Load>
Datum run(FunctionCallInfo fcinfo, const BatchRequest& request, Load load) {
    RunningBatch running;
    cv::pg::MaterializedResult out = cv::pg::begin_materialized(fcinfo);
    const std::optional<std::int64_t> max_age = request.max_age;
    const cv::pg::ServerContext ctx = cv::pg::load_server_context(request.server);
    if (!request.cache_only) cv::pg::Storage::ensure_writable();
    cv::pg::BatchProgress progress(ctx.server_name);

    // The caller's part: the roster, read with the caller's rights.
    cv::pg::Roster roster;
    load(roster);

    // The owner's part, on data only this backend holds.
    progress.phase(cv::pg::BatchPhase::Planning);
    cv::pg::Storage storage(ctx);
    cv::pg::ResultBuilder builder(out.desc);
    const auto& lookups = roster.lookups();
    cv::pg::ResultStore results(lookups.size());
    cv::pg::LookupSet set(ctx, storage, builder, results, max_age);
    set.answer_from_cache(lookups, request.cache_only);
    if (request.cache_only) {
        // Never a call: a license with no answer in the cache says so.
        for (const auto& item : set.misses())
            results.put(std::stoull(item.lookup_id) - 1,
                        builder.error_row(item.state, item.license_number, "NOT_CACHED",
                                          "no answer for this license in the cache; cv_verify_batch or a "
                                          "sweep would look it up"));
    }
    const std::int64_t needed = request.cache_only ? 0 : static_cast<std::int64_t>(set.misses().size());
    // Rows answered by the cache: every valid row whose lookup needs no call.
    std::int64_t cached_rows = roster.rows() - roster.invalid();
    if (!request.cache_only)
        for (const auto& item : set.misses()) cached_rows -= roster.rows_of(std::stoull(item.lookup_id) - 1);
    progress.plan(roster.rows(), roster.invalid(), cached_rows, needed);

    const cv::core::BatchStats stats =
        request.cache_only ? cv::core::BatchStats{} : set.buy(request.options, &progress, "this batch");
    progress.finish(stats);
    progress.phase(cv::pg::BatchPhase::Returning);

    // One row per roster row, in input order, with the caller's id.
    MemoryContext row_memory = nullptr;
    cv::pg::pg_call([&] {
        row_memory = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify batch output",
                                           ALLOCSET_DEFAULT_SIZES);
    });
    Datum values[cv::pg::kResultColumnCount];
    bool nulls[cv::pg::kResultColumnCount];
    roster.for_each([&](const cv::pg::Roster::Row& r) {
        cv::pg::pg_call([&] { MemoryContextReset(row_memory); });
        Datum result;
        {
            cv::pg::MemoryScope scope(row_memory);
            if (r.lookup < 0) {
                result = builder.error_row(r.state, r.license_number, "INVALID_INPUT", r.error);
            } else if (results.has(static_cast<std::size_t>(r.lookup))) {
                result = results.get(static_cast<std::size_t>(r.lookup));
            } else {
                result = builder.error_row(lookups[r.lookup].state, lookups[r.lookup].license_number,
                                           "NO_RESULT", "no answer was recorded for this record");
            }
        }
        {
            cv::pg::MemoryScope scope(row_memory);
            cv::pg::deform_result(result, out.desc, values, nulls);
        }
        values[cv::pg::kResId] = r.id;
        nulls[cv::pg::kResId] = r.id_null;
        cv::pg::pg_call([&] { tuplestore_putvalues(out.store, out.desc, values, nulls); });
    });
    cv::pg::pg_call([&] { MemoryContextDelete(row_memory); });
    return (Datum)0;
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_verify_batch_query);
Datum cv_verify_batch_query(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_verify_batch_json);
Datum cv_verify_batch_json(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_verify_cached_query);
Datum cv_verify_cached_query(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_verify_cached_json);
Datum cv_verify_cached_json(PG_FUNCTION_ARGS);
}

Datum cv_verify_batch_query(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0))
            throw Error(ErrorKind::InvalidParameter, "the roster query must not be NULL");
        const std::string query =
            cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        return run(fcinfo, verify_request(fcinfo), [&](cv::pg::Roster& roster) { roster.load_query(query); });
    });
}

Datum cv_verify_batch_json(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "the roster must not be NULL");
        const Datum roster = PG_GETARG_DATUM(0);
        return run(fcinfo, verify_request(fcinfo), [&](cv::pg::Roster& r) { r.load_json(roster); });
    });
}

Datum cv_verify_cached_query(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0))
            throw Error(ErrorKind::InvalidParameter, "the roster query must not be NULL");
        const std::string query =
            cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        return run(fcinfo, cached_request(fcinfo), [&](cv::pg::Roster& roster) { roster.load_query(query); });
    });
}

Datum cv_verify_cached_json(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "the roster must not be NULL");
        const Datum roster = PG_GETARG_DATUM(0);
        return run(fcinfo, cached_request(fcinfo), [&](cv::pg::Roster& r) { r.load_json(roster); });
    });
}
