// The completion estimate follows the limiter's rule exactly.
#include "core/completion_estimate.h"
#include "core/rate_window.h"

#include <gtest/gtest.h>

#include <memory>

using namespace cv::core;

namespace {

CompletionInput plan(int limit, std::int64_t span, int concurrency, std::int64_t call_ms, std::int64_t calls) {
    CompletionInput in;
    in.limit = limit;
    in.span_ms = span;
    in.concurrency = concurrency;
    in.call_ms = call_ms;
    in.calls = calls;
    in.now = 1000000;
    return in;
}

}  // namespace

TEST(CompletionEstimate, NothingLeftEndsNow) {
    EXPECT_EQ(estimate_completion(plan(10, 60000, 4, 50, 0)), 1000000);
}

TEST(CompletionEstimate, CallsInFlightEndAfterOneCall) {
    CompletionInput in = plan(10, 60000, 4, 200, 0);
    in.in_flight = 2;
    EXPECT_EQ(estimate_completion(in), 1000200);
}

TEST(CompletionEstimate, UnderTheLimitOnlyConcurrencyCounts) {
    // 8 calls, 4 at a time, 100 ms each: two waves.
    EXPECT_EQ(estimate_completion(plan(100, 60000, 4, 100, 8)), 1000200);
}

TEST(CompletionEstimate, NoLimitMeansConcurrencyAlone) {
    EXPECT_EQ(estimate_completion(plan(0, 60000, 2, 100, 5)), 1000300);
}

TEST(CompletionEstimate, TheWindowHoldsBackCallsBeyondTheLimit) {
    // 25 calls at 20 per 60.25 s: 20 start now, the 21st when the 1st leaves the span.
    CompletionInput in = plan(20, 60250, 64, 50, 25);
    EXPECT_EQ(estimate_completion(in), 1000000 + 60250 + 50);
    in.calls = 45;  // a third window
    EXPECT_EQ(estimate_completion(in), 1000000 + 2 * 60250 + 50);
}

TEST(CompletionEstimate, RecentStartsOnTheAccountCountFirst) {
    // 10 calls were sent 10 s ago by others: at 10 per 60 s the next waits 50 s.
    CompletionInput in = plan(10, 60000, 4, 0, 1);
    for (int i = 0; i < 10; ++i) in.recent_starts.push_back(in.now - 10000);
    EXPECT_EQ(estimate_completion(in), in.now + 50000);
}

TEST(CompletionEstimate, PendingCallsStartNowAndAPauseHoldsEverything) {
    CompletionInput in = plan(2, 10000, 4, 0, 1);
    in.pending = 2;
    EXPECT_EQ(estimate_completion(in), in.now + 10000);
    in.pending = 0;
    in.paused_until = in.now + 30000;
    EXPECT_EQ(estimate_completion(in), in.now + 30000);
}

TEST(CompletionEstimate, ReadsSentAndPendingEntriesOfALog) {
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    Reservation a = reserve_start(*log, 100);
    Reservation b = reserve_start(*log, 200);
    (void)b;
    mark_sent(*log, a, 150);
    pause_until(*log, 900);
    CompletionInput in;
    read_log(*log, in);
    EXPECT_EQ(in.recent_starts, std::vector<std::int64_t>{150});
    EXPECT_EQ(in.pending, 1);
    EXPECT_EQ(in.paused_until, 900);
}
