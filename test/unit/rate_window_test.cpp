#include "core/batch_runner.h"
#include "core/rate_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
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

std::unique_ptr<StartLog> fresh_log() {
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    return log;
}

// A call admitted and sent at the same moment.
void start_now(StartLog& log, std::int64_t t) { mark_sent(log, reserve_start(log, t), t); }

}  // namespace

TEST(StartLog, AdmitsUpToLimitThenWaitsForTheOldestToLeave) {
    auto log = fresh_log();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(next_start_at(*log, 3, 1000, 100 + i), 100 + i);
        start_now(*log, 100 + i);
    }
    EXPECT_EQ(next_start_at(*log, 3, 1000, 150), 1100);  // the first start + span
    start_now(*log, 1100);
    EXPECT_EQ(next_start_at(*log, 3, 1000, 1100), 1101);  // then the second
}

TEST(StartLog, PauseHoldsEveryone) {
    auto log = fresh_log();
    pause_until(*log, 5000);
    EXPECT_EQ(next_start_at(*log, 10, 60000, 1000), 5000);
    pause_until(*log, 3000);  // never shortens a pause
    EXPECT_EQ(next_start_at(*log, 10, 60000, 1000), 5000);
    EXPECT_EQ(next_start_at(*log, 10, 60000, 6000), 6000);
}

TEST(StartLog, LimitChangesApplyAtOnce) {
    auto log = fresh_log();
    for (int i = 0; i < 5; ++i) start_now(*log, i);
    EXPECT_EQ(next_start_at(*log, 10, 1000, 10), 10);
    EXPECT_EQ(next_start_at(*log, 5, 1000, 10), 1000);
    EXPECT_EQ(next_start_at(*log, 2, 1000, 10), 1003);
}

// The 429 this design prevents: a call admitted at 0 whose SYN was dropped
// reaches the server at 1000. Counting it from its admission would let the
// next call start at 1100, two arrivals inside [1000, 2000).
TEST(StartLog, ALateSendCountsFromWhenItWasSent) {
    auto log = fresh_log();
    const Reservation a = reserve_start(*log, 0);
    EXPECT_EQ(next_start_at(*log, 1, 1100, 1050), kWhenPendingResolves);
    mark_sent(*log, a, 1000);
    EXPECT_EQ(next_start_at(*log, 1, 1100, 1050), 2100);
}

TEST(StartLog, APendingCallBlocksTheNextAdmissionUntilSent) {
    auto log = fresh_log();
    const Reservation a = reserve_start(*log, 0);
    const Reservation b = reserve_start(*log, 0);
    EXPECT_EQ(pending_count(*log), 2);
    // Pending calls are inside every window, however long ago admitted.
    EXPECT_EQ(next_start_at(*log, 2, 1000, 10), kWhenPendingResolves);
    EXPECT_EQ(next_start_at(*log, 2, 1000, 50000), kWhenPendingResolves);
    EXPECT_EQ(next_start_at(*log, 3, 1000, 10), 10);  // a higher limit has room
    mark_sent(*log, a, 500);
    EXPECT_EQ(next_start_at(*log, 2, 1000, 600), 1500);  // a's send + span
    mark_sent(*log, b, 700);
    EXPECT_EQ(next_start_at(*log, 2, 1000, 1000), 1500);  // now both sends count
    EXPECT_EQ(next_start_at(*log, 1, 1000, 1000), 1700);
    EXPECT_EQ(pending_count(*log), 0);
}

TEST(StartLog, AskAgainShortlyWhenOnlyAPendingCallCanFreeAPlace) {
    auto log = fresh_log();
    reserve_start(*log, 0);
    EXPECT_EQ(ask_again_at(*log, kWhenPendingResolves, 100), 100 + kPendingRecheckMs);
    pause_until(*log, 4000);
    EXPECT_EQ(ask_again_at(*log, kWhenPendingResolves, 100), 4000);
    EXPECT_EQ(ask_again_at(*log, 2500, 100), 2500);
}

TEST(StartLog, ARepeatedSendKeepsTheLatestTime) {
    auto log = fresh_log();
    const Reservation a = reserve_start(*log, 0);
    mark_sent(*log, a, 300);
    mark_sent(*log, a, 900);  // re-sent on a fresh connection
    mark_sent(*log, a, 600);  // an older report arriving late
    EXPECT_EQ(last_start(*log), 900);
    EXPECT_EQ(next_start_at(*log, 1, 1000, 1000), 1900);
}

TEST(StartLog, CancellationFreesThePlace) {
    auto log = fresh_log();
    const Reservation a = reserve_start(*log, 0);
    EXPECT_EQ(next_start_at(*log, 1, 60000, 10), kWhenPendingResolves);
    cancel_reservation(*log, a);
    EXPECT_EQ(pending_count(*log), 0);
    EXPECT_EQ(next_start_at(*log, 1, 60000, 10), 10);

    // Once sent, a call stays counted: cancelling it changes nothing.
    const Reservation b = reserve_start(*log, 10);
    mark_sent(*log, b, 20);
    cancel_reservation(*log, b);
    EXPECT_EQ(next_start_at(*log, 1, 60000, 30), 60020);
}

TEST(StartLog, StalePendingEntriesExpire) {
    auto log = fresh_log();
    const Reservation a = reserve_start(*log, 1000);
    expire_stale_pending(*log, 5000, 10000);  // not stale yet
    EXPECT_EQ(pending_count(*log), 1);
    EXPECT_EQ(next_start_at(*log, 1, 60000, 5000), kWhenPendingResolves);
    expire_stale_pending(*log, 12000, 10000);
    EXPECT_EQ(pending_count(*log), 0);
    EXPECT_EQ(last_start(*log), 11000);  // taken as sent at admission + older_than
    EXPECT_EQ(next_start_at(*log, 1, 60000, 12000), 71000);
    // Its owner was only slow: its report still applies, and cannot undo it.
    mark_sent(*log, a, 11500);
    EXPECT_EQ(last_start(*log), 11500);
    cancel_reservation(*log, a);
    EXPECT_EQ(last_start(*log), 11500);
}

TEST(StartLog, AGenerationKeepsALateUpdateOffAReusedEntry) {
    auto log = fresh_log();
    const Reservation old = reserve_start(*log, 0);
    cancel_reservation(*log, old);
    const Reservation now = reserve_start(*log, 10);
    ASSERT_EQ(now.slot, old.slot);  // the freed entry is reused...
    ASSERT_NE(now.generation, old.generation);  // ...under a new generation
    mark_sent(*log, old, 20);
    EXPECT_EQ(pending_count(*log), 1);  // still pending: the stale report was ignored
    cancel_reservation(*log, old);
    EXPECT_EQ(pending_count(*log), 1);
    mark_sent(*log, now, 30);
    EXPECT_EQ(last_start(*log), 30);
}

TEST(StartLog, LastStartIgnoresPendingCalls) {
    auto log = fresh_log();
    EXPECT_EQ(last_start(*log), std::numeric_limits<std::int64_t>::min());
    start_now(*log, 100);
    reserve_start(*log, 200);
    EXPECT_EQ(last_start(*log), 100);
}

TEST(StartLog, AFullLogEvictsTheOldestSentEntryNeverAPendingOne) {
    auto log = fresh_log();
    std::vector<Reservation> pending;
    for (int i = 0; i < kMaxCallsPerWindow; ++i) {
        if (i % 2 == 0)
            pending.push_back(reserve_start(*log, i));
        else
            start_now(*log, 10000 - i);  // the oldest send is the last one recorded
    }
    const Reservation extra = reserve_start(*log, 20000);
    ASSERT_GE(extra.slot, 0);
    EXPECT_EQ(pending_count(*log), kMaxCallsPerWindow / 2 + 1);
    // The evicted entry was the oldest send (10000 - 999 = 9001).
    mark_sent(*log, extra, 20000);
    // Every pending entry survived and still answers to its reservation.
    for (const Reservation& r : pending) cancel_reservation(*log, r);
    EXPECT_EQ(pending_count(*log), 0);
    // 499 earlier sends remain (9003..9999) plus extra: the 500th most recent is 9003.
    EXPECT_EQ(next_start_at(*log, 500, 1000, 0), 9003 + 1000);
    EXPECT_EQ(next_start_at(*log, 501, 1000, 0), 0);
}

TEST(StartLog, AllPendingMeansNothingRecordedButNothingBreaks) {
    auto log = fresh_log();
    for (int i = 0; i < kMaxCallsPerWindow; ++i) ASSERT_GE(reserve_start(*log, i).slot, 0);
    // Any limit refuses now, so only a caller without a limit gets further.
    EXPECT_EQ(next_start_at(*log, kMaxCallsPerWindow, 1000, 5000), kWhenPendingResolves);
    EXPECT_EQ(next_start_at(*log, 0, 1000, 5000), 5000);
    const Reservation none = reserve_start(*log, 5000);
    EXPECT_LT(none.slot, 0);
    mark_sent(*log, none, 5000);
    cancel_reservation(*log, none);
    EXPECT_EQ(pending_count(*log), kMaxCallsPerWindow);
}

// Property: greedy callers (many sessions asking as fast as they can, at random
// moments) whose requests go out up to ~1 s after admission (a dropped SYN is
// retried a second later), reach the server up to `margin` after that, or are
// never sent at all, never put more than `limit` arrivals into any window,
// sliding or fixed at any phase; and the limit is used, not wasted.
TEST(StartLog, NeverMoreThanTheLimitInAnyWindowWhenSendsLag) {
    std::mt19937_64 rng(42);
    auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    struct Flying {
        Reservation r;
        std::int64_t send_at;
        bool never_sent;
    };
    for (int limit : {1, 3, 10, 60}) {
        const std::int64_t window = 60000, margin = 250;
        auto log = fresh_log();
        std::vector<Flying> flying;
        std::vector<std::int64_t> arrivals;
        std::int64_t now = 0;
        while (now < 10 * window) {
            now += pick(0, 400);
            // Reports reach the log late (at the next look), with the real send time.
            for (auto it = flying.begin(); it != flying.end();) {
                if (it->send_at > now) {
                    ++it;
                    continue;
                }
                if (it->never_sent) {
                    cancel_reservation(*log, it->r);
                } else {
                    mark_sent(*log, it->r, it->send_at);
                    arrivals.push_back(it->send_at + pick(0, margin - 1));
                }
                it = flying.erase(it);
            }
            if (next_start_at(*log, limit, window + margin, now) > now) continue;
            const Reservation r = reserve_start(*log, now);
            const std::int64_t lag = pick(0, 2) == 0 ? pick(950, 1050) : pick(0, 30);
            flying.push_back({r, now + lag, pick(0, 19) == 0});
        }
        EXPECT_LE(max_in_any_window(arrivals, window), limit) << "limit " << limit;
        for (std::int64_t phase : {0, 17, 30000, 59999})
            EXPECT_LE(max_in_fixed_window(arrivals, window, phase), limit) << "limit " << limit;
        // Saturated callers still get most of the limit over 10 windows.
        EXPECT_GE(static_cast<double>(arrivals.size()), 0.9 * 10 * limit) << "limit " << limit;
    }
}

TEST(StartLog, ZeroMeansNoLimitButPausesHold) {
    auto log = fresh_log();
    for (int i = 0; i < 5000; ++i) {
        ASSERT_EQ(next_start_at(*log, 0, 60000, i), i);
        const Reservation r = reserve_start(*log, i);
        ASSERT_GE(r.slot, 0) << i;  // old sends make room
        mark_sent(*log, r, i);
    }
    reserve_start(*log, 5000);  // pending calls do not hold anyone back either
    EXPECT_EQ(next_start_at(*log, 0, 60000, 5001), 5001);
    pause_until(*log, 9000);
    EXPECT_EQ(next_start_at(*log, 0, 60000, 6000), 9000);
    EXPECT_EQ(next_start_at(*log, 0, 60000, 9500), 9500);
}

TEST(LocalRateGate, AdmitsAndPauses) {
    auto log = fresh_log();
    auto gate = make_local_rate_gate(*log, 2, 1000);
    Reservation a, b, c;
    EXPECT_FALSE(gate->try_start(0, a));
    EXPECT_FALSE(gate->try_start(1, b));
    EXPECT_EQ(gate->try_start(2, c), 2 + kPendingRecheckMs);  // both pending
    gate->sent(a, 0);
    gate->sent(b, 1);
    EXPECT_EQ(gate->try_start(2, c), 1000);
    gate->pause_until(5000);
    EXPECT_EQ(gate->try_start(2000, c), 5000);
    EXPECT_FALSE(gate->try_start(5000, c));
    gate->unsent(c);
    EXPECT_EQ(pending_count(*log), 0);
}

TEST(LocalRateGate, WithdrawsWhatItStillHoldsWhenDestroyed) {
    auto log = fresh_log();
    {
        auto gate = make_local_rate_gate(*log, 5, 1000);
        Reservation a, b;
        ASSERT_FALSE(gate->try_start(0, a));
        ASSERT_FALSE(gate->try_start(0, b));
        gate->sent(a, 10);
        EXPECT_EQ(pending_count(*log), 1);
    }
    EXPECT_EQ(pending_count(*log), 0);
    EXPECT_EQ(last_start(*log), 10);  // the sent call stays counted
}

TEST(LocalRateGate, ExpiresStalePendingEntries) {
    auto log = fresh_log();
    reserve_start(*log, 0);  // an owner that vanished
    auto gate = make_local_rate_gate(*log, 1, 1000, 15000);
    Reservation r;
    EXPECT_EQ(gate->try_start(100, r), 100 + kPendingRecheckMs);
    EXPECT_EQ(gate->try_start(15001, r), 16000);  // taken as sent at 15000
    EXPECT_FALSE(gate->try_start(16000, r));
}
