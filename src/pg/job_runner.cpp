#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/cache_rules.h"
#include "core/completion_estimate.h"
#include "core/error.h"
#include "core/options.h"
#include "core/rate_window.h"

#include <nlohmann/json.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "pg/job_runner.h"

#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/worker_stop.h"
#include "pg/quota_guard.h"
#include "pg/rate_gate.h"
#include "pg/recorder.h"
#include "pg/recorder_message.h"
#include "pg/result_row.h"
#include "pg/runtime.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"
#include "pg/single_flight.h"
#include "pg/worker_recording.h"

extern "C" {
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
}

namespace cv::pg {

namespace {

using core::Error;
using core::ErrorKind;
using core::LookupItem;
using core::Observation;

int retention_minutes = 7 * 24 * 60;

// How often a running job looks whether it was cancelled.
constexpr std::int64_t kCancelCheckMs = 300;
// Lookups read from the job per page, and at most per turn of the source.
constexpr int kPage = 500;
constexpr std::size_t kMaxScanPerTurn = 2000;
// A Retry-After is waited out, however long: waiting is what a job is for.
constexpr std::chrono::milliseconds kJobMaxRetryAfter{24LL * 3600 * 1000};
// Runs a job may start before it is given up (each restart after a crash or a
// shutdown is one).
constexpr int kMaxRuns = 10;

// A Postgres error from a job's transaction, copied out of the transaction's
// memory before the abort frees it.
class TransactionError : public std::runtime_error {
public:
    TransactionError(const std::string& sqlstate, const std::string& message)
        : std::runtime_error(message), sqlstate(sqlstate) {}
    std::string sqlstate;
};

// A transaction of the worker's own around f; aborted when f throws.
template <typename F>
void in_transaction(F&& f) {
    begin();
    try {
        f();
    } catch (const PgError& e) {
        TransactionError copy(unpack_sql_state(e.edata()->sqlerrcode), e.what());
        abort_transaction();
        throw copy;
    } catch (...) {
        abort_transaction();
        throw;
    }
    commit();
}

std::int32_t lookup_no(const std::string& lookup_id) { return static_cast<std::int32_t>(std::stol(lookup_id)); }

// What the job's source and sink share.
class JobRun {
public:
    JobRun(const JobRow& job, ServerContext ctx, TupleDesc desc, std::int64_t pending)
        : job(job), ctx(std::move(ctx)), desc(desc), pending_at_start(pending), claims(this->ctx.settings.url),
          answered_since_ms(std::min(job.created_ms, unix_now_ms())), log(std::make_unique<core::StartLog>()) {
        target.server_name = this->ctx.server_name;
        target.role_name = this->ctx.role_name;
        target.api_url = this->ctx.settings.url;
        target.api_key_id = this->ctx.api_key_id;
        settings = this->ctx.settings;
        settings.max_retry_after = std::max(settings.max_retry_after, kJobMaxRetryAfter);
    }

    JobProgress progress() {
        JobProgress p;
        p.calls = job.calls + stats.calls;
        p.rate_limited = job.rate_limited + stats.rate_limited;
        // The limiter's arithmetic over what is left: the lookups not yet
        // handed to a call, in calls of batch_size, after the calls the
        // account's log already holds.
        core::CompletionInput in;
        if (copy_batch_log(ctx, *log)) core::read_log(*log, in);
        in.limit = settings.calls_per_minute;
        in.span_ms = settings.rate_window.count() + settings.rate_margin.count();
        in.concurrency = settings.max_concurrent_calls;
        in.call_ms = stats.calls_ended > 0 ? stats.call_ms_total / stats.calls_ended : 1000;
        in.in_flight = static_cast<int>(stats.in_flight);
        const std::int64_t left = std::max<std::int64_t>(0, pending_at_start - consumed) + static_cast<std::int64_t>(deferred_count);
        in.calls = (left + settings.batch_size - 1) / settings.batch_size;
        in.now = steady_now_ms();
        p.estimated_completion_ms = unix_now_ms() + (core::estimate_completion(in) - in.now);
        return p;
    }

    const JobRow& job;
    ServerContext ctx;
    core::ServerSettings settings;
    RecordingTarget target;
    TupleDesc desc;
    std::int64_t pending_at_start;
    std::int64_t consumed = 0;        // lookups read from the job so far
    // Lookups handed to calls whose answers are not in yet: the quota must
    // hold them besides each new chunk (they are charged when they arrive).
    std::int64_t in_calls = 0;
    std::size_t deferred_count = 0;   // held back: another session is buying them
    InflightClaims claims;
    core::AbsentKeys absent;  // licenses the job found no cache row for
    // An answer recorded after the job was submitted is fresh for it, even
    // with max_age 0: bought for it or beside it (by a batch, say) once the
    // job was asked for, buying it again would pay twice.
    std::int64_t answered_since_ms;
    core::BatchStats stats;
    std::unique_ptr<core::StartLog> log;
    // Why the job stops before its end: cancelled, or a failure to report.
    bool cancelled = false;
    std::string fail_code, fail_message;
    std::int64_t next_cancel_check = 0;
};

// The job's unanswered lookups in order; answers the cache has are stored at
// once, lookups another session is buying are held back and read from the
// cache when that session is done, the rest go to the API.
class JobSource : public core::LookupSource {
public:
    JobSource(JobRun& run, QuotaReservation& quota, const std::function<void()>& between)
        : run_(run), quota_(quota), between_(between) {}

    bool exhausted() const override {
        return !run_.fail_code.empty() || (pages_done_ && page_.empty() && deferred_.empty());
    }

    std::vector<LookupItem> next(std::size_t max, bool may_wait) override {
        std::vector<LookupItem> out;
        if (!run_.fail_code.empty()) return out;
        in_transaction([&] {
            const ExtensionCatalog& catalog = extension_catalog();
            CacheReader reader(catalog);
            ResultBuilder builder(run_.desc);
            std::vector<std::int32_t> nos;
            std::vector<Datum> cached;
            auto from_cache = [&](const LookupItem& item) {
                CachedRow row;
                reader.probe(run_.ctx.settings.url, item.state, item.license_number, row);
                run_.absent.note(item.state, item.license_number, row.found);
                const auto verdict = core::classify_cached(row.head(), unix_now_ms(), run_.ctx.settings,
                                                           run_.job.max_age_ms, run_.answered_since_ms);
                if (verdict == core::CacheVerdict::Miss) return false;
                nos.push_back(lookup_no(item.lookup_id));
                cached.push_back(builder.cached(row, verdict));
                return true;
            };
            // Held back earlier: whoever was buying them may be done.
            std::vector<LookupItem> still;
            for (auto& item : deferred_) {
                if (out.size() >= max || run_.claims.claim(item.state, item.license_number) ==
                                             InflightClaims::Claim::Busy) {
                    still.push_back(std::move(item));
                } else if (from_cache(item)) {
                    run_.claims.release(item.state, item.license_number);
                } else {
                    out.push_back(std::move(item));
                }
            }
            deferred_.swap(still);
            std::size_t scanned = 0;
            while (out.size() < max && scanned < kMaxScanPerTurn) {
                if (page_.empty()) {
                    if (pages_done_) break;
                    auto more = pending_lookups(catalog, run_.job.id, last_no_, kPage);
                    if (more.size() < static_cast<std::size_t>(kPage)) pages_done_ = true;
                    for (auto& item : more) page_.push_back(std::move(item));
                    if (page_.empty()) break;
                }
                LookupItem item = std::move(page_.front());
                page_.pop_front();
                last_no_ = lookup_no(item.lookup_id);
                ++run_.consumed;
                ++scanned;
                if (item.license_number.empty()) {  // by name: neither cached nor single-flighted
                    out.push_back(std::move(item));
                    continue;
                }
                if (run_.claims.claim(item.state, item.license_number) == InflightClaims::Claim::Busy) {
                    deferred_.push_back(std::move(item));
                    continue;
                }
                if (from_cache(item)) {
                    run_.claims.release(item.state, item.license_number);
                    continue;
                }
                out.push_back(std::move(item));
            }
            run_.deferred_count = deferred_.size();
            if (!out.empty()) {
                try {
                    const auto n = static_cast<std::int64_t>(out.size());
                    quota_.cover(run_.in_calls + n);
                    run_.in_calls += n;
                } catch (const Error& e) {
                    if (e.kind() != ErrorKind::QuotaExceeded) throw;
                    // The month's quota is spent: nothing more is bought; the
                    // job fails once the calls in flight are in.
                    for (const auto& item : out)
                        if (!item.license_number.empty()) run_.claims.release(item.state, item.license_number);
                    out.clear();
                    run_.fail_code = "QUOTA_EXCEEDED";
                    run_.fail_message = e.what();
                }
            }
            if (!nos.empty()) store_answers(catalog, run_.job.id, nos, cached, run_.progress());
        });
        // What we wait for may be an answer a backend handed to this worker.
        if (out.empty() && may_wait && !deferred_.empty()) {
            between_();
            interruptible_sleep(std::chrono::milliseconds(20));
        }
        return out;
    }

private:
    JobRun& run_;
    QuotaReservation& quota_;
    const std::function<void()>& between_;
    std::deque<LookupItem> page_;
    std::vector<LookupItem> deferred_;
    std::int64_t last_no_ = 0;
    bool pages_done_ = false;
};

// Each chunk's observations: cache and history, the job's answers and
// counters, in one transaction.
class JobSink : public core::BatchSink {
public:
    JobSink(JobRun& run, QuotaReservation& quota, const std::function<void()>& between)
        : run_(run), quota_(quota), between_(between) {}

    void record(std::vector<Observation>& observations) override {
        RecordingScope recording;  // a termination waits until the chunk is committed
        std::vector<Observation> kept = observations;  // to set aside if recording fails
        // What the API charged counts against the quota whatever becomes of
        // its recording (set aside, or a failure that ends the job).
        std::int64_t charged = 0, answered = 0;
        for (const auto& o : kept) {
            charged += o.charged();
            if (!o.attempt_only) ++answered;
        }
        quota_.charge(charged);
        run_.in_calls = std::max<std::int64_t>(0, run_.in_calls - answered);
        try {
            in_transaction([&] {
                const ExtensionCatalog& catalog = extension_catalog();
                CacheReader reader(catalog);
                ChunkRecording recording(reader, run_.ctx.settings.url, std::move(observations));
                recording.write(catalog, run_.target,
                                run_.absent.all_absent(recording.observations()) ? RowsSeen::None
                                                                                 : RowsSeen::Unknown);
                ResultBuilder builder(run_.desc);
                std::vector<std::int32_t> nos;
                std::vector<Datum> results;
                const auto& obs = recording.observations();
                for (std::size_t i = 0; i < obs.size(); ++i) {
                    if (obs[i].attempt_only) continue;
                    nos.push_back(lookup_no(obs[i].id));
                    const auto& update = recording.update_of(i);
                    results.push_back(builder.answered(obs[i], update, recording.before_of(i),
                                                       recording.answer_raw(update)));
                }
                store_answers(catalog, run_.job.id, nos, results, run_.progress());
            });
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::Aborted) throw;
            set_aside_chunk(kept, e.what());
        } catch (const TransactionError& e) {
            set_aside_chunk(kept, e.what());
        }
        for (const auto& o : kept)
            if (!o.attempt_only && !o.license_number.empty()) run_.claims.release(o.state, o.license_number);
    }

    void poll() override {
        quota_.save_if_due();
        between_();
    }

    // What the quota held for calls sent again is charged now (with the
    // chunk's attempts): no longer in calls.
    void resends_settled(std::int64_t lookups) override {
        run_.in_calls = std::max<std::int64_t>(0, run_.in_calls - lookups);
    }

    void progress(const core::BatchStats& stats) override { run_.stats = stats; }

private:
    // Answers that could not be recorded are kept for a person to look at;
    // their records end the job as NOT_RECORDED instead of being bought again.
    void set_aside_chunk(const std::vector<Observation>& kept, const std::string& reason) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& o : kept) list.push_back(o.to_json(true));
        const std::string text =
            nlohmann::json{{"server_name", run_.target.server_name}, {"role_name", run_.target.role_name},
                           {"api_url", run_.target.api_url}, {"api_key_id", run_.target.api_key_id},
                           {"job_id", run_.job.id}, {"observations", std::move(list)}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        RecorderMessage m;
        m.target = run_.target;
        m.observations = kept;
        m.raw.assign(kept.size(), 0);
        (void)set_aside(text, &m, reason);
        in_transaction([&] {
            const ExtensionCatalog& catalog = extension_catalog();
            ResultBuilder builder(run_.desc);
            std::vector<std::int32_t> nos;
            std::vector<Datum> results;
            for (const auto& o : kept) {
                if (o.attempt_only) continue;
                nos.push_back(lookup_no(o.id));
                results.push_back(builder.error_row(o.state, o.license_number, "NOT_RECORDED",
                                                    "the answer could not be recorded (see "
                                                    "contractor_verify.unrecorded_answers): " + reason));
            }
            store_answers(catalog, run_.job.id, nos, results, run_.progress());
        });
    }

    JobRun& run_;
    QuotaReservation& quota_;
    const std::function<void()>& between_;
};

std::string sqlstate_text(ErrorKind kind) {
    const char* s = unpack_sql_state(sqlstate_for(kind));
    return s;
}

// cv_result's descriptor, blessed, in memory that lasts the job.
TupleDesc result_desc(MemoryContext memory) {
    TupleDesc desc = nullptr;
    in_transaction([&] {
        const Oid type = extension_catalog().result_type;
        pg_call([&] {
            MemoryContext old = MemoryContextSwitchTo(memory);
            desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(type, -1));
            MemoryContextSwitchTo(old);
        });
    });
    return desc;
}

void finish(const JobRow& job, const std::string& status, const std::string& code, const std::string& message) {
    in_transaction([&] { finish_job(extension_catalog(), job.id, status, code, message); });
}

}  // namespace

void job_settings_init() {
    DefineCustomIntVariable(
        "contractor_verify.job_retention",
        "How long jobs that ended are kept, with their results, before the worker deletes them.",
        nullptr, &retention_minutes, 7 * 24 * 60, 1, 3650 * 24 * 60, PGC_SIGHUP, GUC_UNIT_MIN, nullptr,
        nullptr, nullptr);
}

std::int64_t job_retention_ms() { return static_cast<std::int64_t>(retention_minutes) * 60 * 1000; }

namespace {

// Runs the job to its end; throws what fails it.
void run_to_end(const JobRow& job, const std::function<void()>& between, MemoryContext memory) {
    // The submitting role's credentials, checked again now.
    std::optional<ServerContext> ctx;
    std::int64_t pending = 0;
    in_transaction([&] {
        const Oid role = job.owner;
        if (!OidIsValid(role))
            throw Error(ErrorKind::MissingConfig,
                        "the role \"" + job.submitted_by + "\" that submitted the job no longer exists");
        ctx = load_server_context(job.server_name.c_str(), role);
        pending = start_job(extension_catalog(), job.id);
    });
    // A job that keeps ending its worker (a crash each time) must not take
    // the server down again and again.
    if (job.runs >= kMaxRuns)
        throw Error(ErrorKind::Internal, "the job was interrupted " + std::to_string(job.runs) +
                                             " times without finishing; it is not run again",
                    "See the server log for what ended its worker; submit the roster again.");

    JobRun run(job, std::move(*ctx), result_desc(memory), pending);
    // The job holds what it still expects to buy, as far as the quota has
    // room; beyond that, each chunk reserves its own or the job stops.
    QuotaReservation quota(run.ctx, extension_catalog());
    in_transaction([&] {
        (void)quota.reserve_up_to(std::max<std::int64_t>(0, job.lookups_needed - job.lookups_done));
        // The first estimate, before any call.
        store_answers(extension_catalog(), job.id, {}, {}, run.progress());
    });
    JobSource source(run, quota, between);
    JobSink sink(run, quota, between);
    std::unique_ptr<core::RateGate> gate = make_rate_gate(run.ctx, CallKind::Batch);
    core::BatchHooks hooks;
    static_cast<core::CallHooks&>(hooks) = backend_call_hooks();
    hooks.steady_now_ms = [] { return steady_now_ms(); };
    // A call the API may have charged is sent again only when the quota holds
    // its lookups once more, besides the calls in flight.
    hooks.may_charge_again = [&](std::int64_t n) {
        bool covered = false;
        in_transaction([&] {
            try {
                quota.cover(run.in_calls + n);
                run.in_calls += n;
                covered = true;
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::QuotaExceeded) throw;
            }
        });
        return covered;
    };
    hooks.should_stop = [&] {
        if (!run.fail_code.empty() || run.cancelled) return true;
        const std::int64_t now = steady_now_ms();
        if (now < run.next_cancel_check) return false;
        run.next_cancel_check = now + kCancelCheckMs;
        in_transaction([&] {
            const ExtensionCatalog& catalog = extension_catalog();
            // Queued jobs cancelled meanwhile end now, not once this one has.
            cancel_queued_jobs(catalog);
            run.cancelled = cancel_requested(catalog, job.id);
        });
        return run.cancelled;
    };
    run.stats = core::run_batch(backend_http_client(), run.settings, run.ctx.server_name, run.ctx.api_key,
                                source, *gate, sink, hooks, core::BatchOptions{});
    if (!run.fail_code.empty())
        finish(job, "failed", run.fail_code, run.fail_message);
    else if (run.cancelled)
        finish(job, "cancelled", "", "");
    else
        finish(job, "completed", "", "");
}

}  // namespace

void run_job(const JobRow& job, const std::function<void()>& between) {
    MemoryContext memory = nullptr;
    pg_call([&] {
        memory = AllocSetContextCreate(TopMemoryContext, "contractor_verify job", ALLOCSET_DEFAULT_SIZES);
    });
    struct Drop {
        MemoryContext m;
        ~Drop() { MemoryContextDelete(m); }
    } drop{memory};
    // A shutdown leaves the job processing, to resume; anything else fails it.
    try {
        run_to_end(job, between, memory);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Aborted) throw;
        finish(job, "failed", sqlstate_text(e.kind()), e.what());
    } catch (const TransactionError& e) {
        finish(job, "failed", e.sqlstate, e.what());
    } catch (const PgError& e) {
        finish(job, "failed", unpack_sql_state(e.edata()->sqlerrcode), e.what());
    }
}

}  // namespace cv::pg
