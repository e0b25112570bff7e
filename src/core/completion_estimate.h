// When a job's remaining calls will be done, by the rate limiter's own
// arithmetic: the same rule that admits calls (no more than `limit` starts
// in any span, at most `concurrency` in flight, nothing before a 429's pause
// ends) applied to the calls still to make, after the calls the shared log
// already holds (this job's and everyone else's on the same account).
#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <vector>

namespace cv::core {

struct StartLog;

struct CompletionInput {
    std::vector<std::int64_t> recent_starts;  // sent starts on the account (steady ms)
    int pending = 0;                          // admitted, not sent yet: they start now
    std::int64_t paused_until = 0;
    int limit = 0;                            // calls per span; 0: no limit of our own
    std::int64_t span_ms = 0;                 // rate_window + rate_margin
    int concurrency = 1;                      // calls in flight at once
    std::int64_t call_ms = 0;                 // how long one call takes
    int in_flight = 0;                        // this job's calls now in flight
    std::int64_t calls = 0;                   // calls still to make
    std::int64_t now = 0;
};

// The moment (same clock as `now`) the last of the calls ends.
std::int64_t estimate_completion(const CompletionInput& in);

// The sent starts and pending count of a log, for CompletionInput.
void read_log(const StartLog& log, CompletionInput& in);

}  // namespace cv::core
