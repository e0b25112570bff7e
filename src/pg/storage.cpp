#include "pg/core_first.h"
#include "core/batch_protocol.h"
#include "core/cache_rules.h"
#include "core/error.h"
#include "core/options.h"

#include <nlohmann/json.hpp>

#include "pg/storage.h"

#include "pg/guard.h"
#include "pg/memory_scope.h"
#include "pg/recorder_message.h"
#include "pg/recorder_queue.h"
#include "pg/runtime.h"

extern "C" {
#include "access/xact.h"
}

namespace cv::pg {

Storage::Storage(const ServerContext& ctx)
    : ctx_(ctx), catalog_(extension_catalog()), claims_(ctx.settings.url), quota_(ctx, catalog_) {
    target_.server_name = ctx.server_name;
    target_.role_name = ctx.role_name;
    target_.api_url = ctx.settings.url;
    target_.api_key_id = ctx.api_key_id;
    started_ms_ = unix_now_ms();
    pg_call([&] {
        scratch_ = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify chunk",
                                         ALLOCSET_DEFAULT_SIZES);
    });
    reader_ = std::make_unique<CacheReader>(catalog_);
}

Storage::~Storage() {
    // An error is unwinding (or the statement is done): answers still
    // waiting for room in the queue wait a little longer for it (the worker
    // drains it), and are never dropped without a word.
    if (waiting_.empty()) return;
    try {
        const std::int64_t deadline = unix_now_ms() + 10000;
        poll();
        while (!waiting_.empty() && unix_now_ms() <= deadline) {
            pg_usleep(10000L);
            poll();
        }
        if (waiting_.empty()) return;
        std::size_t answers = 0;
        for (const auto& w : waiting_) answers += w.keys.size();
        pg_call([&] {
            ereport(WARNING,
                    (errmsg("contractor_verify could not hand %zu chunks (%zu answers the API charged "
                            "for) to the worker: they are not recorded",
                            waiting_.size(), answers),
                     errhint("The worker's queue stayed full: see the server log for what holds it up.")));
        });
    } catch (...) {
    }
}

core::CacheVerdict Storage::look_up(const std::string& state, const std::string& license_number,
                                    CachedRow& row, std::optional<std::int64_t> max_age,
                                    std::optional<std::int64_t> since) {
    reader_->probe(target_.api_url, state, license_number, row);
    absent_.note(state, license_number, row.found);
    return core::classify_cached(row.head(), unix_now_ms(), ctx_.settings, max_age, since);
}

void Storage::ensure_writable() {
    if (XactReadOnly)
        throw core::Error(core::ErrorKind::ReadOnly,
                          "cannot verify licenses in a read-only transaction",
                          "Answers from the API are stored in the extension's tables; run the "
                          "lookup in a read-write transaction on the primary. Fresh cache entries "
                          "can still be read.");
}

void Storage::prepare_to_call(std::int64_t needed) {
    ensure_writable();
    quota_.reserve(needed);
    if (!prepared_) {
        queued_ = recorder_ready(catalog_.owner);
        prepared_ = true;
    }
}

void Storage::record(std::vector<core::Observation> observations, ResultBuilder& results,
                     const std::function<void(const core::Observation&, Datum)>& on_result) {
    // Everything a chunk allocates goes when the next chunk comes; on_result
    // copies what it keeps.
    MemoryContext caller = CurrentMemoryContext;
    pg_call([&] { MemoryContextReset(scratch_); });
    MemoryScope in_scratch(scratch_);
    reader_->refresh();
    ChunkRecording recording(*reader_, target_.api_url, observations);
    const auto& recorded_obs = recording.observations();
    std::int64_t charged = 0;
    for (std::size_t i = 0; i < recorded_obs.size(); ++i) {
        charged += recorded_obs[i].charged();
        if (recorded_obs[i].attempt_only) continue;
        const Datum result = results.answered(recorded_obs[i], recording.update_of(i), recording.before_of(i),
                                              recording.answer_raw(recording.update_of(i)));
        MemoryScope back(caller);
        on_result(recorded_obs[i], result);
    }
    quota_.charge(charged);
    const RowsSeen seen = absent_.all_absent(recorded_obs) ? RowsSeen::None : RowsSeen::Unknown;
    if (!queued_) {
        recording.write(catalog_, target_, seen);
        return;
    }
    Waiting w;
    std::vector<Datum> raw(recorded_obs.size());
    for (std::size_t i = 0; i < recorded_obs.size(); ++i) raw[i] = recording.raw_of(i);
    w.message = encode_message(target_, recorded_obs, raw, seen);
    for (const auto& o : recorded_obs)
        if (auto number = core::cache_license_number(o); number && !o.attempt_only)
            w.keys.emplace(o.state, *number);
    waiting_.push_back(std::move(w));
    poll();
}

void Storage::poll() {
    quota_.save_if_due();
    while (!waiting_.empty()) {
        auto ticket = hand_over(waiting_.front().message, catalog_.owner);
        if (!ticket) return;  // the queue is full: next turn
        claims_.handed_over(waiting_.front().keys, *ticket);
        tickets_.push_back(*ticket);
        waiting_.pop_front();
    }
}

std::size_t Storage::unsettled() {
    std::vector<std::uint64_t> open;
    for (std::uint64_t t : tickets_)
        if (!recorded(t)) open.push_back(t);
    tickets_.swap(open);
    return tickets_.size() + waiting_.size();
}

void Storage::wait_settled() {
    wait_for_recording(100, catalog_.owner);
    poll();
}

void Storage::settle_all() {
    std::size_t last = unsettled();
    std::int64_t since = unix_now_ms();
    while (last > 0) {
        wait_settled();
        const std::size_t now_open = unsettled();
        if (now_open < last) {
            last = now_open;
            since = unix_now_ms();
        } else if (unix_now_ms() - since > 60000 && !recorder_running()) {
            // The answers stay queued (a worker that starts later records
            // them); this statement stops waiting.
            throw core::Error(core::ErrorKind::Internal,
                              "the contractor_verify worker has not recorded this statement's answers "
                              "for a minute and is not running",
                              "See the server log for why it cannot start (max_worker_processes, the "
                              "extension owner's role); the answers stay queued until it can.");
        }
    }
}

void Storage::wait_for_other_session() { wait_for_recording(100, catalog_.owner); }

}  // namespace cv::pg
