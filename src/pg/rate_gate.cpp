#include "core/batch_runner.h"
#include "core/error.h"
#include "core/rate_window.h"

#include "pg/rate_gate.h"

#include <limits>
#include <map>

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

// The slot of a key, claiming a free or idle one; nullptr when every slot is
// busy with another key. Call with the shared lock held.
LimiterSlot* find_slot(SharedState* s, std::uint64_t key, std::int64_t now, std::int64_t span) {
    LimiterSlot* idle = nullptr;
    for (auto& slot : s->limiters) {
        if (slot.key_hash == key) return &slot;
        const bool free = slot.key_hash == 0 ||
                          (now - slot.last_used_ms > span && slot.log.paused_until < now);
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
    SharedRateGate(SharedState* s, std::uint64_t key, int limit, std::int64_t span)
        : s_(s), key_(key), limit_(limit), span_(span) {}

    std::optional<std::int64_t> try_start(std::int64_t now) override {
        SharedLock lock(s_);
        LimiterSlot* slot = find_slot(s_, key_, now, span_);
        if (slot == nullptr) return now + 100;  // every slot busy: ask again shortly
        slot->last_used_ms = now;
        const std::int64_t at = core::next_start_at(slot->log, limit_, span_, now);
        if (at > now) return at;
        core::record_start(slot->log, now);
        return std::nullopt;
    }

    void pause_until(std::int64_t until) override {
        SharedLock lock(s_);
        LimiterSlot* slot = find_slot(s_, key_, steady_now_ms(), span_);
        if (slot == nullptr) return;
        core::pause_until(slot->log, until);
        ++slot->rate_limited;
    }

private:
    SharedState* s_;
    std::uint64_t key_;
    int limit_;
    std::int64_t span_;
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
        return std::make_unique<SharedRateGate>(s, key_hash(ctx), limit, span_ms(ctx));
    warn_once_without_preload();
    // Without shared memory: one log per key, for this session.
    static std::map<std::uint64_t, std::unique_ptr<core::StartLog>> logs;
    auto& log = logs[key_hash(ctx)];
    if (!log) {
        log = std::make_unique<core::StartLog>();
        core::start_log_reset(*log);
    }
    return core::make_local_rate_gate(*log, limit, span_ms(ctx));
}

}  // namespace cv::pg
