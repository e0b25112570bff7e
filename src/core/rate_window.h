#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <limits>

namespace cv::core {

// The most calls one window may hold (the upper bound of calls_per_minute).
inline constexpr int kMaxCallsPerWindow = 1000;

// next_start_at's answer when `limit` calls are pending or recent and only a
// pending call's resolution (sent, cancelled or expired) can free a place.
inline constexpr std::int64_t kWhenPendingResolves = std::numeric_limits<std::int64_t>::max();

// How soon a gate asks again after kWhenPendingResolves.
inline constexpr std::int64_t kPendingRecheckMs = 50;

// One entry of a StartLog. generation == 0 marks a free entry.
struct StartEntry {
    std::int64_t start;        // when the request was sent (Sent entries only)
    std::int64_t admitted_at;  // when the call was admitted
    std::uint32_t generation;  // changes every time the entry is reused
    std::uint8_t pending;      // 1: admitted, request not sent yet
};

// A log of call starts, exact for any window, in two phases. The API server
// counts a call when its request arrives, which can be long after we admitted
// it (a dropped SYN is retried about a second later), so an admitted call is
// *pending* -- counted inside every window, as if it started at +infinity --
// until its request is sent; then its start is the moment it was sent. A call
// given up before its request was sent is removed.
//
// A call may start at `now` only if fewer than `limit` entries are pending or
// started in (now - span, now]. Every call is admitted no later than it is
// sent, so with span = window + margin no window-long interval, fixed
// (clock-aligned) or sliding, ever holds more than `limit` sends, and `margin`
// covers network delay. A token bucket with a burst larger than one call
// cannot promise that.
//
// Plain data with no pointers and no constructor, so it can live in shared
// memory; start_log_reset() initializes it. All times are milliseconds on one
// monotonic clock (steady_clock, shared by every process of the machine).
struct StartLog {
    StartEntry entries[kMaxCallsPerWindow];
    std::uint32_t next_generation;  // never 0
    std::int64_t paused_until;      // no call before this (a 429's Retry-After)
};

// One admitted call. The generation makes a late update harmless after the
// entry was cancelled, expired or evicted and reused by another call.
// slot < 0: no entry was recorded (see reserve_start); every update ignores it.
struct Reservation {
    std::int32_t slot = -1;
    std::uint32_t generation = 0;
};

// Empties the log and lifts any pause.
void start_log_reset(StartLog& log);

// The earliest time a call may start: `now` when it may start at once,
// otherwise max(paused_until, the (limit - pending)-th most recent sent start
// + span), or kWhenPendingResolves when `limit` calls are pending. A limit of
// 0 means no limit of our own (only a pause holds calls back).
std::int64_t next_start_at(const StartLog& log, int limit, std::int64_t span_ms, std::int64_t now);

// When a gate should ask again after next_start_at answered `at` (> now):
// `at` itself, or shortly (and not before the pause ends) for kWhenPendingResolves.
std::int64_t ask_again_at(const StartLog& log, std::int64_t at, std::int64_t now);

// Records a call admitted at `now` as pending. Call only when next_start_at
// said `now`. When the log is full, the sent entry with the oldest start is
// evicted: with more than `limit` sent entries it is outside every window that
// matters. Pending entries are never evicted; if all kMaxCallsPerWindow are
// pending (next_start_at refuses that for any limit, so only a caller without
// a limit gets here) nothing is recorded and an empty Reservation comes back.
Reservation reserve_start(StartLog& log, std::int64_t now);

// The call's request was sent at `sent_at`. May be called again (libcurl
// re-sending on a fresh connection): the latest time is kept. Also applies to
// an entry that expire_stale_pending already settled.
void mark_sent(StartLog& log, Reservation r, std::int64_t sent_at);

// The call was given up before its request was sent (connect failure,
// cancel): its entry is removed. Does nothing once the entry was sent.
void cancel_reservation(StartLog& log, Reservation r);

// A safety net for an owner that vanished without resolving its entries: an
// entry pending since more than `older_than_ms` before `now` is treated as
// sent at admitted_at + older_than_ms. Callers pass connect_timeout plus a
// margin, since a live owner's request is sent or failed by then.
void expire_stale_pending(StartLog& log, std::int64_t now, std::int64_t older_than_ms);

// Entries still pending.
int pending_count(const StartLog& log);

// A 429: no call before `until`. Never shortens a pause.
void pause_until(StartLog& log, std::int64_t until);

// The latest known start (pending entries excluded), or a very old time when
// there is none.
std::int64_t last_start(const StartLog& log);

}  // namespace cv::core

#include <memory>

namespace cv::core {

class RateGate;

// A rate gate over a StartLog in this process's memory (which must outlive
// it): for one session when the cluster-wide limiter (shared memory) is not
// available, and for tests. Reservations it still holds pending when it is
// destroyed are cancelled. stale_pending_ms > 0 also expires pending entries
// older than that before each admission.
std::unique_ptr<RateGate> make_local_rate_gate(StartLog& log, int limit, std::int64_t span_ms,
                                               std::int64_t stale_pending_ms = 0);

}  // namespace cv::core
