#include "core/backoff.h"
#include "core/freshness.h"

#include <gtest/gtest.h>

using namespace cv::core;
using std::chrono::milliseconds;

TEST(Backoff, DoublesWithinJitterBounds) {
    const milliseconds base(1000), max(60000);
    for (int attempt = 0; attempt < 5; ++attempt) {
        const long long ceiling = 1000LL << attempt;
        EXPECT_EQ(backoff_delay(attempt, base, max, 0.0).count(), ceiling / 2) << attempt;
        EXPECT_EQ(backoff_delay(attempt, base, max, 0.999999).count(), ceiling - 1) << attempt;
        const auto mid = backoff_delay(attempt, base, max, 0.5).count();
        EXPECT_GE(mid, ceiling / 2);
        EXPECT_LE(mid, ceiling);
    }
}

TEST(Backoff, CappedAtMax) {
    EXPECT_EQ(backoff_delay(20, milliseconds(1000), milliseconds(60000), 1.0), milliseconds(60000));
    EXPECT_EQ(backoff_delay(20, milliseconds(1000), milliseconds(60000), 0.0), milliseconds(30000));
    EXPECT_EQ(backoff_delay(1000, milliseconds(1000), milliseconds(5000), 1.0), milliseconds(5000));
}

TEST(Backoff, JitterSpreadsClients) {
    // Different random draws give different delays for the same attempt.
    EXPECT_NE(backoff_delay(3, milliseconds(1000), milliseconds(60000), 0.1),
              backoff_delay(3, milliseconds(1000), milliseconds(60000), 0.9));
}

TEST(Freshness, TtlRules) {
    ServerSettings s = ServerSettings::from_options({});
    Observation ok;
    ok.outcome = outcome::kVerified;
    ok.license_number = "1";
    ok.record = LicenseRecord{};
    ok.record->license_status = "ACTIVE";
    EXPECT_EQ(cache_ttl_ms(ok, s), 24 * 3600 * 1000LL);
    ok.record->disciplinary_actions = nlohmann::json::array({{{"type", "FINE"}}});
    EXPECT_EQ(cache_ttl_ms(ok, s), 4 * 3600 * 1000LL);
    ok.record->disciplinary_actions = nlohmann::json::array();
    ok.record->license_status = "SUSPENDED";
    EXPECT_EQ(cache_ttl_ms(ok, s), 4 * 3600 * 1000LL);

    Observation nf;
    nf.outcome = outcome::kNotFound;
    nf.license_number = "1";
    EXPECT_EQ(cache_ttl_ms(nf, s), 3600 * 1000LL);
    nf.license_number.clear();  // a name lookup: not cached
    EXPECT_FALSE(cache_ttl_ms(nf, s));

    Observation timeout;
    timeout.outcome = outcome::kStateTimeout;
    timeout.license_number = "1";
    EXPECT_FALSE(cache_ttl_ms(timeout, s));
}

TEST(Freshness, StateTimeoutRetryIn4To6Hours) {
    EXPECT_EQ(state_timeout_retry_delay_ms(0.0), 4 * 3600 * 1000LL);
    EXPECT_EQ(state_timeout_retry_delay_ms(1.0), 6 * 3600 * 1000LL);
    EXPECT_EQ(state_timeout_retry_delay_ms(0.5), 5 * 3600 * 1000LL);
}
