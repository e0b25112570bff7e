#include "core/rate_window.h"

#include "core/error.h"
#include "core/options.h"
#include "core/url.h"

#include <algorithm>
#include <functional>
#include <vector>

namespace cv::core {

namespace {

constexpr std::int64_t kNoStart = std::numeric_limits<std::int64_t>::min();

bool in_use(const StartEntry& e) { return e.generation != 0; }

// The entry a reservation still names, or nullptr once it was reused or freed.
StartEntry* entry_of(StartLog& log, Reservation r) {
    if (r.slot < 0 || r.slot >= kMaxCallsPerWindow || r.generation == 0) return nullptr;
    StartEntry& e = log.entries[r.slot];
    return e.generation == r.generation ? &e : nullptr;
}

std::uint32_t take_generation(StartLog& log) {
    std::uint32_t g = log.next_generation;
    if (g == 0) g = 1;  // 0 marks a free entry
    log.next_generation = g + 1 == 0 ? 1 : g + 1;
    return g;
}

}  // namespace

void start_log_reset(StartLog& log) {
    for (StartEntry& e : log.entries) e = StartEntry{kNoStart, kNoStart, 0, 0};
    log.next_generation = 1;
    log.paused_until = kNoStart;
}

std::int64_t next_start_at(const StartLog& log, int limit, std::int64_t span_ms, std::int64_t now) {
    const std::int64_t at = std::max(now, log.paused_until);
    if (limit <= 0) return at;  // no limit of our own; a 429's pause still holds
    limit = std::min(limit, kMaxCallsPerWindow);

    // Pending calls count in every window; the rest of the limit goes to sends.
    std::int64_t sent[kMaxCallsPerWindow];
    int n_sent = 0, n_pending = 0;
    for (const StartEntry& e : log.entries) {
        if (!in_use(e)) continue;
        if (e.pending)
            ++n_pending;
        else
            sent[n_sent++] = e.start;
    }
    if (n_pending >= limit) return kWhenPendingResolves;
    const int room = limit - n_pending;
    if (n_sent < room) return at;
    // The room-th most recent send must have left the span.
    std::nth_element(sent, sent + (room - 1), sent + n_sent, std::greater<std::int64_t>());
    return std::max(at, sent[room - 1] + span_ms);
}

std::int64_t ask_again_at(const StartLog& log, std::int64_t at, std::int64_t now) {
    if (at != kWhenPendingResolves) return at;
    return std::max(now + kPendingRecheckMs, log.paused_until);
}

Reservation reserve_start(StartLog& log, std::int64_t now) {
    int slot = -1;
    for (int i = 0; i < kMaxCallsPerWindow; ++i) {
        const StartEntry& e = log.entries[i];
        if (!in_use(e)) {
            slot = i;
            break;
        }
        if (!e.pending && (slot < 0 || e.start < log.entries[slot].start)) slot = i;
    }
    if (slot < 0) return Reservation{};  // every entry pending: nothing evictable
    StartEntry& e = log.entries[slot];
    e.start = kNoStart;
    e.admitted_at = now;
    e.generation = take_generation(log);
    e.pending = 1;
    return Reservation{slot, e.generation};
}

void mark_sent(StartLog& log, Reservation r, std::int64_t sent_at) {
    StartEntry* e = entry_of(log, r);
    if (e == nullptr) return;
    e->start = e->pending ? sent_at : std::max(e->start, sent_at);
    e->pending = 0;
}

void cancel_reservation(StartLog& log, Reservation r) {
    StartEntry* e = entry_of(log, r);
    if (e == nullptr || !e->pending) return;
    *e = StartEntry{kNoStart, kNoStart, 0, 0};
}

void expire_stale_pending(StartLog& log, std::int64_t now, std::int64_t older_than_ms) {
    for (StartEntry& e : log.entries) {
        if (in_use(e) && e.pending && now - e.admitted_at > older_than_ms) {
            e.start = e.admitted_at + older_than_ms;
            e.pending = 0;
        }
    }
}

int pending_count(const StartLog& log) {
    int n = 0;
    for (const StartEntry& e : log.entries) n += in_use(e) && e.pending ? 1 : 0;
    return n;
}

void pause_until(StartLog& log, std::int64_t until) {
    log.paused_until = std::max(log.paused_until, until);
}

std::int64_t last_start(const StartLog& log) {
    std::int64_t latest = kNoStart;
    for (const StartEntry& e : log.entries)
        if (in_use(e) && !e.pending) latest = std::max(latest, e.start);
    return latest;
}

}  // namespace cv::core

#include "core/batch_runner.h"

namespace cv::core {

namespace {

class LocalRateGate : public RateGate {
public:
    LocalRateGate(StartLog& log, int limit, std::int64_t span_ms, std::int64_t stale_pending_ms)
        : log_(log), limit_(limit), span_(span_ms), stale_(stale_pending_ms) {}

    ~LocalRateGate() override {
        for (const Reservation& r : held_) cancel_reservation(log_, r);
    }

    std::optional<std::int64_t> try_start(std::int64_t now, Reservation& admitted) override {
        if (stale_ > 0) expire_stale_pending(log_, now, stale_);
        const std::int64_t at = next_start_at(log_, limit_, span_, now);
        if (at > now) return ask_again_at(log_, at, now);
        // Room to remember the reservation, taken before it exists.
        if (held_.size() == held_.capacity()) held_.reserve(held_.size() * 2 + 4);
        admitted = reserve_start(log_, now);
        held_.push_back(admitted);
        return std::nullopt;
    }

    void sent(const Reservation& r, std::int64_t sent_at) override {
        mark_sent(log_, r, sent_at);
        forget(r);
    }

    void unsent(const Reservation& r) override {
        cancel_reservation(log_, r);
        forget(r);
    }

    void pause_until(std::int64_t until) override { core::pause_until(log_, until); }
    std::int64_t paused_until() override { return log_.paused_until; }

private:
    void forget(const Reservation& r) {
        held_.erase(std::remove_if(held_.begin(), held_.end(),
                                   [&](const Reservation& h) {
                                       return h.slot == r.slot && h.generation == r.generation;
                                   }),
                    held_.end());
    }

    StartLog& log_;
    int limit_;
    std::int64_t span_;
    std::int64_t stale_;
    std::vector<Reservation> held_;  // admitted here, not yet sent or cancelled
};

}  // namespace

std::unique_ptr<RateGate> make_local_rate_gate(StartLog& log, int limit, std::int64_t span_ms,
                                               std::int64_t stale_pending_ms) {
    return std::make_unique<LocalRateGate>(log, limit, span_ms, stale_pending_ms);
}

void throw_if_paused_too_long(RateGate& gate, const ServerSettings& settings,
                              const std::string& server_name, std::int64_t now_ms) {
    const std::int64_t until = gate.paused_until();
    if (until <= now_ms) return;
    const std::int64_t left = until - now_ms;
    if (left <= settings.max_retry_after.count()) return;
    throw Error(ErrorKind::RemoteFailure,
                "the ContractorVerify API at " + url_host(settings.url) + " asked every caller of this "
                    "key to wait " + std::to_string((left + 999) / 1000) + "s more, longer than max_retry_after",
                "Try again later, or raise max_retry_after on server \"" + server_name + "\".");
}

}  // namespace cv::core
