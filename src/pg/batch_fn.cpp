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
#include "pg/usage_counter.h"

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

// The lookups the cache did not answer, a chunk at a time. A license another
// session is buying right now is held back (never waited for while this
// batch has calls in flight) and, once that answer is recorded, read from
// the cache instead of bought again.
class MissSource : public cv::core::LookupSource {
public:
    MissSource(std::vector<cv::core::LookupItem> items, cv::pg::Storage& storage,
               cv::pg::ResultBuilder& builder, cv::pg::ResultStore& results,
               std::optional<std::int64_t> max_age)
        : items_(std::move(items)), storage_(storage), builder_(builder),
          results_(results), max_age_(max_age) {}

    bool exhausted() const override { return pos_ >= items_.size() && deferred_.empty(); }

    std::vector<cv::core::LookupItem> next(std::size_t max, bool may_wait) override {
        std::vector<cv::core::LookupItem> out;
        bool refreshed = false;
        while (pos_ < items_.size() && out.size() < max) {
            cv::core::LookupItem& item = items_[pos_++];
            if (item.license_number.empty()) {
                out.push_back(std::move(item));
                continue;
            }
            const auto claim = storage_.claims().claim(item.state, item.license_number);
            if (claim == cv::pg::InflightClaims::Claim::Busy) {
                deferred_.push_back(std::move(item));
                continue;
            }
            // Claimed: another session may have recorded it since the plan.
            if (from_cache(item, refreshed)) {
                storage_.claims().release(item.state, item.license_number);
                continue;
            }
            out.push_back(std::move(item));
        }
        if (!out.empty() || deferred_.empty()) return out;
        if (may_wait) storage_.wait_for_other_session();
        // Held-back lookups whose buyer is done: from the cache, or ours to buy.
        std::vector<cv::core::LookupItem> still;
        for (auto& item : deferred_) {
            if (out.size() >= max || storage_.claims().busy(item.state, item.license_number)) {
                still.push_back(std::move(item));
                continue;
            }
            if (from_cache(item, refreshed)) continue;
            if (storage_.claims().claim(item.state, item.license_number) ==
                cv::pg::InflightClaims::Claim::Busy) {
                still.push_back(std::move(item));
            } else if (from_cache(item, refreshed = false)) {
                storage_.claims().release(item.state, item.license_number);
            } else {
                out.push_back(std::move(item));
            }
        }
        deferred_.swap(still);
        return out;
    }

private:
    // An answer another session recorded for the item (since this batch
    // began, or fresh enough anyway) becomes its result.
    bool from_cache(const cv::core::LookupItem& item, bool& refreshed) {
        if (!refreshed) {
            storage_.reader().refresh();
            refreshed = true;
        }
        cv::pg::CachedRow row;
        const auto verdict =
            storage_.look_up(item.state, item.license_number, row, max_age_, storage_.started_ms());
        if (verdict == cv::core::CacheVerdict::Miss) return false;
        results_.put(std::stoull(item.lookup_id) - 1, builder_.cached(row, verdict));
        return true;
    }

    std::vector<cv::core::LookupItem> items_;
    std::size_t pos_ = 0;
    std::vector<cv::core::LookupItem> deferred_;
    cv::pg::Storage& storage_;
    cv::pg::ResultBuilder& builder_;
    cv::pg::ResultStore& results_;
    std::optional<std::int64_t> max_age_;
};

class RecordingSink : public cv::core::BatchSink {
public:
    RecordingSink(cv::pg::Storage& storage, cv::pg::ResultBuilder& builder,
                  cv::pg::ResultStore& results, cv::pg::BatchProgress& progress)
        : storage_(storage), builder_(builder), results_(results), progress_(progress) {}
    void record(std::vector<cv::core::Observation>& observations) override {
        storage_.record(std::move(observations), builder_,
                        [&](const cv::core::Observation& o, Datum d) {
                            const std::size_t lookup = std::stoull(o.id) - 1;
                            results_.put(lookup, d);
                        });
    }
    std::size_t unsettled() override { return storage_.unsettled(); }
    void poll() override { storage_.poll(); }
    void wait_settled() override { storage_.wait_settled(); }
    void progress(const cv::core::BatchStats& stats) override { progress_.update(stats); }

private:
    cv::pg::Storage& storage_;
    cv::pg::ResultBuilder& builder_;
    cv::pg::ResultStore& results_;
    cv::pg::BatchProgress& progress_;
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
    std::vector<cv::core::LookupItem> misses;
    std::int64_t from_cache = 0;  // lookups the cache answered
    {
        cv::pg::CachedRow row;
        MemoryContext planning = nullptr;
        cv::pg::pg_call([&] {
            planning = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify planning",
                                             ALLOCSET_DEFAULT_SIZES);
        });
        cv::pg::MemoryScope in_planning(planning);
        for (std::size_t i = 0; i < lookups.size(); ++i) {
            const cv::core::LookupItem& item = lookups[i];
            if (i % 1000 == 999) {
                cv::pg::throw_if_interrupted();
                storage.reader().refresh();
                cv::pg::pg_call([&] { MemoryContextReset(planning); });
            }
            if (!item.license_number.empty()) {
                // Cache only: any answer the cache holds, whatever its age.
                auto verdict = storage.look_up(item.state, item.license_number, row, max_age);
                if (verdict == cv::core::CacheVerdict::Miss && request.cache_only && row.found)
                    verdict = row.head().answered() ? cv::core::CacheVerdict::Fresh
                                                    : cv::core::CacheVerdict::TimeoutPending;
                if (verdict != cv::core::CacheVerdict::Miss) {
                    results.put(i, builder.cached(row, verdict));
                    ++from_cache;
                    continue;
                }
            }
            if (request.cache_only) {
                results.put(i, builder.error_row(item.state, item.license_number, "NOT_CACHED",
                                                 "no answer for this license in the cache; cv_verify_batch "
                                                 "or a sweep would look it up"));
                continue;
            }
            misses.push_back(item);
        }
    }
    const std::int64_t needed = static_cast<std::int64_t>(misses.size());
    // Rows answered by the cache: every valid row whose lookup needs no call.
    std::int64_t cached_rows = roster.rows() - roster.invalid();
    for (const auto& item : misses) cached_rows -= roster.rows_of(std::stoull(item.lookup_id) - 1);
    progress.plan(roster.rows(), roster.invalid(), cached_rows, needed);
    // Lookups the cache saved; a cache-only read would never have called.
    if (!request.cache_only) cv::pg::count_cache_answers(ctx, from_cache);

    cv::core::BatchStats stats;
    if (needed > 0) {
        storage.prepare_to_call(needed);
        progress.phase(cv::pg::BatchPhase::Calling);
        MissSource source(std::move(misses), storage, builder, results, max_age);
        RecordingSink sink(storage, builder, results, progress);
        std::unique_ptr<cv::core::RateGate> gate = cv::pg::make_rate_gate(ctx, cv::pg::CallKind::Batch);
        cv::core::BatchHooks hooks;
        static_cast<cv::core::CallHooks&>(hooks) = cv::pg::backend_call_hooks();
        hooks.steady_now_ms = [] { return cv::pg::steady_now_ms(); };
        stats = cv::core::run_batch(cv::pg::backend_http_client(), ctx.settings, ctx.server_name,
                                    ctx.api_key, source, *gate, sink, hooks, request.options);
    }
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
        cv::pg::pg_call([&] {
            HeapTupleHeader header = DatumGetHeapTupleHeader(result);
            HeapTupleData tuple;
            tuple.t_len = HeapTupleHeaderGetDatumLength(header);
            ItemPointerSetInvalid(&tuple.t_self);
            tuple.t_tableOid = InvalidOid;
            tuple.t_data = header;
            MemoryContext old = MemoryContextSwitchTo(row_memory);
            heap_deform_tuple(&tuple, out.desc, values, nulls);
            values[cv::pg::kResId] = r.id;
            nulls[cv::pg::kResId] = r.id_null;
            MemoryContextSwitchTo(old);
            tuplestore_putvalues(out.store, out.desc, values, nulls);
        });
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
