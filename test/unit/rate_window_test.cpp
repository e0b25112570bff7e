#include "core/batch_runner.h"
#include "core/rate_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

using namespace cv::core;

namespace {

// Most starts within any interval of `window` ms (a sliding window).
int max_in_any_window(std::vector<std::int64_t> t, std::int64_t window) {
    std::sort(t.begin(), t.end());
    int best = 0;
    std::size_t lo = 0;
    for (std::size_t hi = 0; hi < t.size(); ++hi) {
        while (t[hi] - t[lo] >= window) ++lo;
        best = std::max(best, static_cast<int>(hi - lo + 1));
    }
    return best;
}

// Most starts within one clock-aligned window (a fixed window).
int max_in_fixed_window(const std::vector<std::int64_t>& t, std::int64_t window, std::int64_t phase) {
    std::map<std::int64_t, int> per;
    for (auto x : t) ++per[(x + phase) / window];
    int best = 0;
    for (auto& [k, n] : per) best = std::max(best, n);
    return best;
}

}  // namespace

TEST(StartLog, AdmitsUpToLimitThenWaitsForTheOldestToLeave) {
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(next_start_at(*log, 3, 1000, 100 + i), 100 + i);
        record_start(*log, 100 + i);
    }
    EXPECT_EQ(next_start_at(*log, 3, 1000, 150), 1100);  // the first start + span
    record_start(*log, 1100);
    EXPECT_EQ(next_start_at(*log, 3, 1000, 1100), 1101);  // then the second
}

TEST(StartLog, PauseHoldsEveryone) {
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    pause_until(*log, 5000);
    EXPECT_EQ(next_start_at(*log, 10, 60000, 1000), 5000);
    pause_until(*log, 3000);  // never shortens a pause
    EXPECT_EQ(next_start_at(*log, 10, 60000, 1000), 5000);
    EXPECT_EQ(next_start_at(*log, 10, 60000, 6000), 6000);
}

TEST(StartLog, LimitChangesApplyAtOnce) {
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    for (int i = 0; i < 5; ++i) record_start(*log, i);
    EXPECT_EQ(next_start_at(*log, 10, 1000, 10), 10);
    EXPECT_EQ(next_start_at(*log, 5, 1000, 10), 1000);
    EXPECT_EQ(next_start_at(*log, 2, 1000, 10), 1003);
}

// Property: greedy callers (many sessions asking as fast as they can, at random
// moments) never get more than `limit` starts into any window, sliding or
// fixed at any phase, and the limit is used, not wasted.
TEST(StartLog, NeverMoreThanTheLimitInAnyWindow) {
    std::mt19937_64 rng(42);
    for (int limit : {1, 3, 10, 60}) {
        const std::int64_t window = 60000, margin = 250;
        auto log = std::make_unique<StartLog>();
        start_log_reset(*log);
        std::vector<std::int64_t> starts;
        std::int64_t now = 0;
        while (now < 10 * window) {
            now += std::uniform_int_distribution<std::int64_t>(0, 400)(rng);
            const std::int64_t at = next_start_at(*log, limit, window + margin, now);
            if (at <= now) {
                record_start(*log, now);
                starts.push_back(now);
            }
        }
        EXPECT_LE(max_in_any_window(starts, window), limit) << "limit " << limit;
        for (std::int64_t phase : {0, 17, 30000, 59999})
            EXPECT_LE(max_in_fixed_window(starts, window, phase), limit) << "limit " << limit;
        // Saturated callers get (nearly) the whole limit: at least 95% over 10 windows.
        EXPECT_GE(static_cast<double>(starts.size()), 0.95 * 10 * limit) << "limit " << limit;
    }
}

TEST(LocalRateGate, AdmitsAndPauses) {
    StartLog log;
    start_log_reset(log);
    auto gate = make_local_rate_gate(log, 2, 1000);
    EXPECT_FALSE(gate->try_start(0));
    EXPECT_FALSE(gate->try_start(1));
    EXPECT_EQ(gate->try_start(2), 1000);
    gate->pause_until(5000);
    EXPECT_EQ(gate->try_start(2000), 5000);
    EXPECT_FALSE(gate->try_start(5000));
}

TEST(StartLog, ZeroMeansNoLimitButPausesHold) {
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    for (int i = 0; i < 5000; ++i) {
        ASSERT_EQ(next_start_at(*log, 0, 60000, i), i);
        record_start(*log, i);
    }
    pause_until(*log, 9000);
    EXPECT_EQ(next_start_at(*log, 0, 60000, 6000), 9000);
}
