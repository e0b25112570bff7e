#include "core/batch_runner.h"
#include "core/error.h"
#include "core/rate_window.h"

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "pg/rate_gate.h"

#include "pg/guard.h"
#include "pg/shared_state.h"

namespace cv::pg {

namespace {

std::uint64_t key_hash(const ServerContext& ctx) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const std::string* part : {&ctx.settings.url, &ctx.api_key}) {
        for (unsigned char c : *part) {
            h ^= c;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return h == 0 ? 1 : h;
}

std::int64_t span_ms(const ServerContext& ctx) {
    return ctx.settings.rate_window.count() + ctx.settings.rate_margin.count();
}

// A pending call older than this lost its owner (a live one has sent its
// request or failed to connect by then).
std::int64_t stale_pending_ms(const ServerContext& ctx) {
    return ctx.settings.connect_timeout.count() + 5000;
}

// The slot of a key, or nullptr. Call with the shared lock held.
LimiterSlot* existing_slot(SharedState* s, std::uint64_t key) {
    for (auto& slot : s->limiters)
        if (slot.key_hash == key) return &slot;
    return nullptr;
}

// The slot of a key, claiming a free or idle one; nullptr when every slot is
// busy with another key. A slot with calls pending is not idle, so a late
// sent/unsent never lands in another key's log. Call with the shared lock held.
LimiterSlot* find_slot(SharedState* s, std::uint64_t key, std::int64_t now, std::int64_t span,
                       std::int64_t stale) {
    if (LimiterSlot* mine = existing_slot(s, key)) return mine;
    LimiterSlot* idle = nullptr;
    for (auto& slot : s->limiters) {
        bool free = slot.key_hash == 0;
        if (!free && now - slot.last_used_ms > span && slot.log.paused_until < now) {
            core::expire_stale_pending(slot.log, now, stale);
            free = core::pending_count(slot.log) == 0;
        }
        if (free && (idle == nullptr || slot.last_used_ms < idle->last_used_ms)) idle = &slot;
    }
    if (idle == nullptr) return nullptr;
    idle->key_hash = key;
    idle->last_used_ms = now;
    idle->rate_limited = 0;
    core::start_log_reset(idle->log);
    return idle;
}

class SharedRateGate : public core::RateGate {
public:
    SharedRateGate(SharedState* s, std::uint64_t key, int limit, std::int64_t span,
                   std::int64_t stale)
        : s_(s), key_(key), limit_(limit), span_(span), stale_(stale) {}

    // An error or cancel must not leave a pending entry blocking every
    // session until it goes stale.
    ~SharedRateGate() override {
        if (held_.empty()) return;
        try {
            SharedLock lock(s_);
            if (LimiterSlot* slot = existing_slot(s_, key_))
                for (const auto& r : held_) core::cancel_reservation(slot->log, r);
        } catch (...) {
            // Could not take the lock: the entries expire as stale.
        }
    }

    std::optional<std::int64_t> try_start(std::int64_t now, core::Reservation& admitted) override {
        // Room to remember the reservation, taken before it exists.
        if (held_.size() == held_.capacity()) held_.reserve(held_.size() * 2 + 4);
        SharedLock lock(s_);
        LimiterSlot* slot = find_slot(s_, key_, now, span_, stale_);
        if (slot == nullptr) return now + 100;  // every slot busy: ask again shortly
        slot->last_used_ms = now;
        core::expire_stale_pending(slot->log, now, stale_);
        const std::int64_t at = core::next_start_at(slot->log, limit_, span_, now);
        if (at > now) return core::ask_again_at(slot->log, at, now);
        admitted = core::reserve_start(slot->log, now);
        held_.push_back(admitted);
        return std::nullopt;
    }

    void sent(const core::Reservation& r, std::int64_t sent_at) override {
        {
            SharedLock lock(s_);
            if (LimiterSlot* slot = existing_slot(s_, key_)) {
                core::mark_sent(slot->log, r, sent_at);
                slot->last_used_ms = std::max(slot->last_used_ms, sent_at);
            }
        }
        forget(r);
    }

    void unsent(const core::Reservation& r) override {
        {
            SharedLock lock(s_);
            if (LimiterSlot* slot = existing_slot(s_, key_)) core::cancel_reservation(slot->log, r);
        }
        forget(r);
    }

    void pause_until(std::int64_t until) override {
        SharedLock lock(s_);
        LimiterSlot* slot = find_slot(s_, key_, steady_now_ms(), span_, stale_);
        if (slot == nullptr) return;
        core::pause_until(slot->log, until);
        ++slot->rate_limited;
    }

private:
    void forget(const core::Reservation& r) {
        held_.erase(std::remove_if(held_.begin(), held_.end(),
                                   [&](const core::Reservation& h) {
                                       return h.slot == r.slot && h.generation == r.generation;
                                   }),
                    held_.end());
    }

    SharedState* s_;
    std::uint64_t key_;
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

std::unique_ptr<core::RateGate> make_rate_gate(const ServerContext& ctx) {
    const int limit = ctx.settings.calls_per_minute;
    if (SharedState* s = shared_state())
        return std::make_unique<SharedRateGate>(s, key_hash(ctx), limit, span_ms(ctx),
                                                stale_pending_ms(ctx));
    warn_once_without_preload();
    // Without shared memory: one log per key, for this session.
    static std::map<std::uint64_t, std::unique_ptr<core::StartLog>> logs;
    auto& log = logs[key_hash(ctx)];
    if (!log) {
        log = std::make_unique<core::StartLog>();
        core::start_log_reset(*log);
    }
    return core::make_local_rate_gate(*log, limit, span_ms(ctx), stale_pending_ms(ctx));
}

}  // namespace cv::pg
