#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/error.h"
#include "core/key_hash.h"
#include "core/rate_window.h"

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "pg/rate_gate.h"

#include "pg/guard.h"

namespace cv::pg {

namespace {

std::uint64_t key_hash(const ServerContext& ctx) {
    return core::key_hash({&ctx.settings.url, &ctx.api_key});
}

std::int64_t span_ms(const ServerContext& ctx) {
    return ctx.settings.rate_window.count() + ctx.settings.rate_margin.count();
}

// A pending call older than this lost its owner (a live one has sent its
// request or failed to connect by then).
std::int64_t stale_pending_ms(const ServerContext& ctx) {
    return ctx.settings.connect_timeout.count() + 5000;
}

bool idle(ApiKeySlot& slot, std::int64_t now, std::int64_t stale) {
    // Forgotten only when nothing it knows can matter any more: no call
    // within its window (or the key was rejected), no pause, nothing
    // pending, no quota reserved. (The month's count is reloaded from the
    // quota file and the history when the account comes back.)
    // A slot no call was ever admitted through (a statement refused by the
    // quota, or only waiting on others) holds nothing worth keeping.
    const bool never_called = !slot.called && slot.quota_reserved == 0;
    if (!slot.rejected && !never_called &&
        (now - slot.last_used_ms <= slot.span_ms || slot.batch_log.paused_until >= now ||
         slot.single_log.paused_until >= now))
        return false;
    core::expire_stale_pending(slot.batch_log, now, stale);
    core::expire_stale_pending(slot.single_log, now, stale);
    return core::pending_count(slot.batch_log) == 0 && core::pending_count(slot.single_log) == 0 &&
           slot.quota_reserved == 0;
}

ApiKeySlot* existing_slot(SharedState* s, std::uint64_t key) {
    for (int i = 0; i < s->key_slot_count; ++i)
        if (s->key_slots[i].key_hash == key) return &s->key_slots[i];
    return nullptr;
}

class SharedRateGate : public core::RateGate {
public:
    SharedRateGate(SharedState* s, const ServerContext& ctx, CallKind kind)
        : s_(s), ctx_(ctx), key_(key_hash(ctx)), kind_(kind),
          limit_(kind == CallKind::Batch ? ctx.settings.calls_per_minute
                                         : ctx.settings.single_calls_per_minute),
          span_(span_ms(ctx)), stale_(stale_pending_ms(ctx)) {}

    // An error or cancel must not leave a pending entry blocking every
    // session until it goes stale.
    ~SharedRateGate() override {
        if (held_.empty()) return;
        try {
            SharedLock lock(s_);
            if (ApiKeySlot* slot = existing_slot(s_, key_))
                for (const auto& r : held_) core::cancel_reservation(log(*slot), r);
        } catch (...) {
            // Could not take the lock: the entries expire as stale.
        }
    }

    std::optional<std::int64_t> try_start(std::int64_t now, core::Reservation& admitted) override {
        // Room to remember the reservation, taken before it exists.
        if (held_.size() == held_.capacity()) held_.reserve(held_.size() * 2 + 4);
        SharedLock lock(s_);
        ApiKeySlot& slot = account_slot(s_, ctx_, now);
        core::StartLog& l = log(slot);
        core::expire_stale_pending(l, now, stale_);
        // A 429 on either endpoint holds both.
        const std::int64_t paused = std::max(slot.batch_log.paused_until, slot.single_log.paused_until);
        const std::int64_t at = std::max(core::next_start_at(l, limit_, span_, now), paused);
        if (at > now) return core::ask_again_at(l, at, now);
        admitted = core::reserve_start(l, now);
        held_.push_back(admitted);
        slot.called = true;
        return std::nullopt;
    }

    void sent(const core::Reservation& r, std::int64_t sent_at) override {
        {
            SharedLock lock(s_);
            if (ApiKeySlot* slot = existing_slot(s_, key_)) {
                core::mark_sent(log(*slot), r, sent_at);
                slot->last_used_ms = std::max(slot->last_used_ms, sent_at);
            }
        }
        forget(r);
    }

    void unsent(const core::Reservation& r) override {
        {
            SharedLock lock(s_);
            if (ApiKeySlot* slot = existing_slot(s_, key_)) core::cancel_reservation(log(*slot), r);
        }
        forget(r);
    }

    void pause_until(std::int64_t until) override {
        SharedLock lock(s_);
        ApiKeySlot& slot = account_slot(s_, ctx_, steady_now_ms());
        core::pause_until(slot.batch_log, until);
        core::pause_until(slot.single_log, until);
        ++slot.rate_limited;
    }

    std::int64_t paused_until() override {
        SharedLock lock(s_);
        ApiKeySlot* slot = existing_slot(s_, key_);
        return slot == nullptr ? std::numeric_limits<std::int64_t>::min()
                               : std::max(slot->batch_log.paused_until, slot->single_log.paused_until);
    }

    // A rejected key's slot is free for another account as soon as nothing
    // is pending in it: junk keys cannot crowd out working ones.
    void rejected() override {
        SharedLock lock(s_);
        if (ApiKeySlot* slot = existing_slot(s_, key_)) slot->rejected = true;
    }

private:
    core::StartLog& log(ApiKeySlot& slot) const {
        return kind_ == CallKind::Batch ? slot.batch_log : slot.single_log;
    }

    void forget(const core::Reservation& r) {
        held_.erase(std::remove_if(held_.begin(), held_.end(),
                                   [&](const core::Reservation& h) {
                                       return h.slot == r.slot && h.generation == r.generation;
                                   }),
                    held_.end());
    }

    SharedState* s_;
    const ServerContext& ctx_;
    std::uint64_t key_;
    CallKind kind_;
    int limit_;
    std::int64_t span_;
    std::int64_t stale_;
    std::vector<core::Reservation> held_;  // admitted by this gate, still pending
};

void warn_once_without_preload() {
    static bool warned = false;
    if (warned) return;
    warned = true;
    pg_call([] {
        ereport(WARNING,
                (errmsg("contractor_verify is not in shared_preload_libraries: the rate limit "
                        "applies to this session only, not across the cluster"),
                 errhint("Add contractor_verify to shared_preload_libraries and restart the "
                         "server, so every session and job shares one limiter.")));
    });
}

}  // namespace

ApiKeySlot& account_slot(SharedState* s, const ServerContext& ctx, std::int64_t now) {
    const std::uint64_t key = key_hash(ctx);
    if (ApiKeySlot* mine = existing_slot(s, key)) {
        mine->last_used_ms = std::max(mine->last_used_ms, now);
        mine->span_ms = std::max(mine->span_ms, span_ms(ctx));
        return *mine;
    }
    ApiKeySlot* chosen = nullptr;
    for (int i = 0; i < s->key_slot_count; ++i) {
        ApiKeySlot& slot = s->key_slots[i];
        if (slot.key_hash == 0 || idle(slot, now, stale_pending_ms(ctx))) {
            if (chosen == nullptr || slot.key_hash == 0 || slot.last_used_ms < chosen->last_used_ms)
                chosen = &slot;
            if (slot.key_hash == 0) break;
        }
    }
    if (chosen == nullptr)
        throw core::Error(core::ErrorKind::ResourceExhausted,
                          "every one of the " + std::to_string(s->key_slot_count) +
                              " API accounts the rate limiter tracks is in use",
                          "Raise contractor_verify.max_api_keys (a server restart is needed), or "
                          "use fewer distinct API keys and URLs at once.");
    std::memset(static_cast<void*>(chosen), 0, sizeof(ApiKeySlot));
    chosen->key_hash = key;
    chosen->last_used_ms = now;
    strlcpy(chosen->api_url, ctx.settings.url.c_str(), sizeof chosen->api_url);
    strlcpy(chosen->api_key_id, ctx.api_key_id.c_str(), sizeof chosen->api_key_id);
    chosen->span_ms = span_ms(ctx);
    core::start_log_reset(chosen->batch_log);
    core::start_log_reset(chosen->single_log);
    return *chosen;
}

bool copy_batch_log(const ServerContext& ctx, core::StartLog& out) {
    SharedState* s = shared_state();
    if (s == nullptr) return false;
    SharedLock lock(s);
    ApiKeySlot* slot = existing_slot(s, key_hash(ctx));
    if (slot == nullptr)
        core::start_log_reset(out);
    else
        out = slot->batch_log;
    return true;
}

std::unique_ptr<core::RateGate> make_rate_gate(const ServerContext& ctx, CallKind kind) {
    if (SharedState* s = shared_state()) return std::make_unique<SharedRateGate>(s, ctx, kind);
    warn_once_without_preload();
    // Without shared memory: one log per key and kind, for this session.
    static std::map<std::pair<std::uint64_t, int>, std::unique_ptr<core::StartLog>> logs;
    auto& log = logs[{key_hash(ctx), static_cast<int>(kind)}];
    if (!log) {
        log = std::make_unique<core::StartLog>();
        core::start_log_reset(*log);
    }
    const int limit = kind == CallKind::Batch ? ctx.settings.calls_per_minute
                                              : ctx.settings.single_calls_per_minute;
    return core::make_local_rate_gate(*log, limit, span_ms(ctx), stale_pending_ms(ctx));
}

}  // namespace cv::pg
