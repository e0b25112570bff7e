#pragma once
#include "core/no_postgres.h"

#include <cstdint>

namespace cv::core {

// The most calls one window may hold (the upper bound of calls_per_minute).
inline constexpr int kMaxCallsPerWindow = 1000;

// A log of the latest call start times, exact for any window: a call may start
// at `now` only if fewer than `limit` calls started in (now - span, now]. With
// span = window + margin this guarantees that no more than `limit` calls start
// in any window-long interval, whether the server counts a fixed (clock-aligned)
// or a sliding window, and leaves `margin` for network delay. A token bucket
// with a burst larger than one call cannot promise that.
//
// Plain data with no pointers, so it can live in shared memory; all times are
// milliseconds on one monotonic clock.
struct StartLog {
    std::int64_t starts[kMaxCallsPerWindow];
    std::int32_t head;   // index of the next write
    std::int32_t count;  // valid entries, at most kMaxCallsPerWindow
    std::int64_t paused_until;  // no call before this (a 429's Retry-After)
};

void start_log_reset(StartLog& log);

// The earliest time a call may start: `now` if it may start at once. A limit
// of 0 means no limit of our own (only a pause holds calls back).
std::int64_t next_start_at(const StartLog& log, int limit, std::int64_t span_ms, std::int64_t now);

// Records a call starting at `now` (after next_start_at said it may).
void record_start(StartLog& log, std::int64_t now);

// A 429: no call before `until`.
void pause_until(StartLog& log, std::int64_t until);

// The latest recorded start, or a very old time when there is none.
std::int64_t last_start(const StartLog& log);

}  // namespace cv::core

#include <memory>

namespace cv::core {

class RateGate;

// A rate gate over a StartLog in this process's memory (which must outlive
// it): for one session when the cluster-wide limiter (shared memory) is not
// available, and for tests.
std::unique_ptr<RateGate> make_local_rate_gate(StartLog& log, int limit, std::int64_t span_ms);

}  // namespace cv::core
