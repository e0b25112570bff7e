#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/cache_rules.h"
#include "core/error.h"

#include "pg/lookup_set.h"
#include "pg/usage_counter.h"

#include <memory>
#include <string>
#include <utility>

#include "pg/cache_table.h"
#include "pg/guard.h"
#include "pg/live_lookup_budget.h"
#include "pg/memory_scope.h"
#include "pg/rate_gate.h"
#include "pg/runtime.h"
#include "pg/shared_state.h"
#include "pg/single_flight.h"

namespace cv::pg {

namespace {

std::size_t lookup_index(const std::string& lookup_id) {
    return std::stoull(lookup_id) - 1;
}

// The lookups the cache did not answer, a chunk at a time. A license another
// session is buying right now is held back (never waited for while this
// batch has calls in flight) and, once that answer is recorded, read from
// the cache instead of bought again.
class MissSource : public core::LookupSource {
public:
    MissSource(std::vector<core::LookupItem> items, Storage& storage, ResultBuilder& builder,
               ResultStore& results, std::optional<std::int64_t> max_age)
        : items_(std::move(items)),
          storage_(storage),
          builder_(builder),
          results_(results),
          max_age_(max_age) {}

    bool exhausted() const override { return pos_ >= items_.size() && deferred_.empty(); }

    std::vector<core::LookupItem> next(std::size_t max, bool may_wait) override {
        std::vector<core::LookupItem> out;
        while (pos_ < items_.size() && out.size() < max) {
            std::vector<core::LookupItem> claimed;
            while (pos_ < items_.size() && out.size() + claimed.size() < max) {
                core::LookupItem& item = items_[pos_++];
                if (item.license_number.empty()) {
                    out.push_back(std::move(item));
                } else if (storage_.claims().claim(item.state, item.license_number) ==
                           InflightClaims::Claim::Busy) {
                    deferred_.push_back(std::move(item));
                } else {
                    claimed.push_back(std::move(item));
                }
            }
            // Claimed: another session may have recorded it since the plan.
            // Read with a snapshot taken after the claims: an answer whose
            // buyer's claim had ended before ours began is in it.
            bool refreshed = false;
            for (auto& item : claimed) {
                if (from_cache(item, refreshed))
                    storage_.claims().release(item.state, item.license_number);
                else
                    out.push_back(std::move(item));
            }
        }
        if (!out.empty() || deferred_.empty()) return out;
        if (may_wait) storage_.wait_for_other_session();
        bool refreshed = false;  // a snapshot taken after the wait
        // Held-back lookups whose buyer is done: from the cache, or ours to buy.
        std::vector<core::LookupItem> still;
        for (auto& item : deferred_) {
            if (out.size() >= max || storage_.claims().busy(item.state, item.license_number)) {
                still.push_back(std::move(item));
                continue;
            }
            if (from_cache(item, refreshed)) continue;
            if (storage_.claims().claim(item.state, item.license_number) ==
                InflightClaims::Claim::Busy) {
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
    bool from_cache(const core::LookupItem& item, bool& refreshed) {
        if (!refreshed) {
            storage_.reader().refresh();
            refreshed = true;
        }
        CachedRow row;
        const auto verdict =
            storage_.look_up(item.state, item.license_number, row, max_age_, storage_.started_ms());
        if (verdict == core::CacheVerdict::Miss) return false;
        results_.put(lookup_index(item.lookup_id), builder_.cached(row, verdict));
        return true;
    }

    std::vector<core::LookupItem> items_;
    std::size_t pos_ = 0;
    std::vector<core::LookupItem> deferred_;
    Storage& storage_;
    ResultBuilder& builder_;
    ResultStore& results_;
    std::optional<std::int64_t> max_age_;
};

class RecordingSink : public core::BatchSink {
public:
    RecordingSink(Storage& storage, ResultBuilder& builder, ResultStore& results,
                  BatchProgress* progress)
        : storage_(storage), builder_(builder), results_(results), progress_(progress) {}
    void record(std::vector<core::Observation>& observations) override {
        storage_.record(
            std::move(observations), builder_,
            [&](const core::Observation& o, Datum d) { results_.put(lookup_index(o.id), d); });
    }
    std::size_t unsettled() override { return storage_.unsettled(); }
    void poll() override { storage_.poll(); }
    void wait_settled() override { storage_.wait_settled(); }
    void progress(const core::BatchStats& stats) override {
        if (progress_ != nullptr) progress_->update(stats);
    }

private:
    Storage& storage_;
    ResultBuilder& builder_;
    ResultStore& results_;
    BatchProgress* progress_;
};

}  // namespace

LookupSet::LookupSet(const ServerContext& ctx, Storage& storage, ResultBuilder& builder,
                     ResultStore& results, std::optional<std::int64_t> max_age)
    : ctx_(ctx), storage_(storage), builder_(builder), results_(results), max_age_(max_age) {}

std::int64_t LookupSet::answer_from_cache(const std::vector<core::LookupItem>& lookups, bool any_age) {
    std::int64_t answered = 0;
    misses_.reserve(misses_.size() + lookups.size());
    CachedRow row;
    MemoryContext planning = nullptr;
    pg_call([&] {
        planning = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify planning",
                                         ALLOCSET_DEFAULT_SIZES);
    });
    {
        MemoryScope in_planning(planning);
        for (std::size_t i = 0; i < lookups.size(); ++i) {
            const core::LookupItem& item = lookups[i];
            if (i % 1000 == 999) {
                throw_if_interrupted();
                storage_.reader().refresh();
                pg_call([&] { MemoryContextReset(planning); });
            }
            if (!item.license_number.empty()) {
                auto verdict = storage_.look_up(item.state, item.license_number, row, max_age_);
                // Any age: whatever answer the row holds (a bare STATE_TIMEOUT row as such).
                if (verdict == core::CacheVerdict::Miss && any_age && row.found)
                    verdict = row.head().answered() ? core::CacheVerdict::Fresh : core::CacheVerdict::TimeoutPending;
                if (verdict != core::CacheVerdict::Miss) {
                    results_.put(lookup_index(item.lookup_id), builder_.cached(row, verdict));
                    ++answered;
                    continue;
                }
            }
            misses_.push_back(item);
        }
    }
    pg_call([&] { MemoryContextDelete(planning); });
    // Reading the cache for its own sake (cache only) saves no lookup.
    if (!any_age) count_cache_answers(ctx_, answered);
    return answered;
}

core::BatchStats LookupSet::buy(const core::BatchOptions& options, BatchProgress* progress,
                                const char* what) {
    core::BatchStats stats;
    if (misses_.empty()) return stats;
    const std::int64_t needed = static_cast<std::int64_t>(misses_.size());
    spend_live_lookups(needed, what);
    storage_.prepare_to_call(needed);
    if (progress != nullptr) progress->phase(BatchPhase::Calling);
    MissSource source(std::move(misses_), storage_, builder_, results_, max_age_);
    misses_.clear();
    RecordingSink sink(storage_, builder_, results_, progress);
    std::unique_ptr<core::RateGate> gate = make_rate_gate(ctx_, CallKind::Batch);
    core::BatchHooks hooks;
    static_cast<core::CallHooks&>(hooks) = backend_call_hooks();
    hooks.steady_now_ms = [] { return steady_now_ms(); };
    hooks.may_charge_again = [this](std::int64_t n) { return storage_.reserve_again(n); };
    return core::run_batch(backend_http_client(), ctx_.settings, ctx_.server_name, ctx_.api_key,
                           source, *gate, sink, hooks, options);
}

}  // namespace cv::pg
