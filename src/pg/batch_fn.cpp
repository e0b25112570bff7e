// cv_verify_batch(roster text | jsonb, max_age, server, all_or_nothing): a
// whole roster in one statement -- deduplicated, cache first, chunked,
// concurrent, under the cluster-wide rate limit, one result row per input row.
#include "core/batch_runner.h"
#include "core/error.h"
#include "core/rate_window.h"

#include <optional>
#include <string>

#include "pg/args.h"
#include "pg/batch_store.h"
#include "pg/guard.h"
#include "pg/progress.h"
#include "pg/rate_gate.h"
#include "pg/runtime.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"
#include "pg/spool.h"
#include "pg/srf.h"
#include "pg/storage.h"

extern "C" {
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace {

using cv::core::Error;
using cv::core::ErrorKind;

// One batch at a time per session (the temporary tables are per session).
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

class StoreSource : public cv::core::LookupSource {
public:
    explicit StoreSource(cv::pg::BatchStore& store) : store_(store) {}
    std::vector<cv::core::LookupItem> next(std::size_t max) override { return store_.next_lookups(max); }

private:
    cv::pg::BatchStore& store_;
};

class StoreSink : public cv::core::BatchSink {
public:
    StoreSink(cv::pg::BatchStore& store, cv::pg::BatchProgress& progress)
        : store_(store), progress_(progress) {}
    void record(std::vector<cv::core::Observation>& observations) override {
        store_.record(observations);
    }
    void progress(const cv::core::BatchStats& stats) override { progress_.update(stats); }

private:
    cv::pg::BatchStore& store_;
    cv::pg::BatchProgress& progress_;
};

template <typename Load>
Datum run(FunctionCallInfo fcinfo, Load load) {
    RunningBatch running;
    cv::pg::MaterializedResult out = cv::pg::begin_materialized(fcinfo);
    const std::optional<Datum> max_age = cv::pg::max_age_arg(fcinfo, 1);
    const char* server = cv::pg::server_arg(fcinfo, 2);
    cv::core::BatchOptions options;
    options.all_or_nothing = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);

    const cv::pg::ServerContext ctx = cv::pg::load_server_context(server);
    cv::pg::Storage::ensure_writable();
    cv::pg::Storage storage(ctx);
    cv::pg::spool_recover(storage.owner());
    cv::pg::BatchStore store(storage, ctx);
    cv::pg::BatchProgress progress(ctx.server_name);

    load(store);
    progress.phase(cv::pg::BatchPhase::Planning);
    const cv::pg::BatchStore::Plan plan = store.plan(max_age);
    progress.plan(plan.total, plan.invalid, plan.cached, plan.lookups);
    storage.check_quota(plan.lookups);

    cv::core::BatchStats stats;
    if (plan.lookups > 0) {
        progress.phase(cv::pg::BatchPhase::Calling);
        StoreSource source(store);
        StoreSink sink(store, progress);
        std::unique_ptr<cv::core::RateGate> gate = cv::pg::make_rate_gate(ctx);
        cv::core::BatchHooks hooks;
        static_cast<cv::core::CallHooks&>(hooks) = cv::pg::backend_call_hooks();
        hooks.steady_now_ms = [] { return cv::pg::steady_now_ms(); };
        stats = cv::core::run_batch(cv::pg::backend_http_client(), ctx.settings, ctx.server_name,
                                    ctx.api_key, source, *gate, sink, hooks, options);
    }
    progress.finish(stats);
    progress.phase(cv::pg::BatchPhase::Returning);
    store.emit(out);
    store.drop();
    return (Datum)0;
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_verify_batch_query);
Datum cv_verify_batch_query(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_verify_batch_json);
Datum cv_verify_batch_json(PG_FUNCTION_ARGS);
}

Datum cv_verify_batch_query(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0))
            throw Error(ErrorKind::InvalidParameter, "the roster query must not be NULL");
        const std::string query =
            cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        return run(fcinfo, [&](cv::pg::BatchStore& store) { store.load_query(query); });
    });
}

Datum cv_verify_batch_json(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "the roster must not be NULL");
        const Datum roster = PG_GETARG_DATUM(0);
        return run(fcinfo, [&](cv::pg::BatchStore& store) { store.load_json(roster); });
    });
}
