#include "core/absent_keys.h"

#include <gtest/gtest.h>

using namespace cv::core;

namespace {

Observation answer(const std::string& state, const std::string& number) {
    Observation o;
    o.state = state;
    o.license_number = number;
    o.outcome = outcome::kVerified;
    return o;
}

}  // namespace

TEST(AbsentKeys, AllAbsentOnlyWhenEveryAnsweredLicenseWasMissing) {
    AbsentKeys keys;
    keys.note("CA", "100", false);
    keys.note("CA", "101", false);
    EXPECT_TRUE(keys.all_absent({answer("CA", "100"), answer("CA", "101")}));
    // Never looked up, or looked up in another state: not known to be absent.
    EXPECT_FALSE(keys.all_absent({answer("CA", "100"), answer("CA", "102")}));
    EXPECT_FALSE(keys.all_absent({answer("TX", "100")}));
}

TEST(AbsentKeys, ARowSeenOnceIsNoLongerKnownAbsent) {
    AbsentKeys keys;
    keys.note("CA", "100", false);
    keys.note("CA", "100", true);
    EXPECT_FALSE(keys.all_absent({answer("CA", "100")}));
    keys.note("CA", "100", false);
    EXPECT_FALSE(keys.all_absent({answer("CA", "100")}));
}

TEST(AbsentKeys, ManyLicenses) {
    AbsentKeys keys;
    for (int i = 0; i < 50000; ++i) keys.note("CA", std::to_string(i), i % 7 == 0);
    std::vector<Observation> absent, mixed;
    for (int i = 1; i < 50000; i += 7) absent.push_back(answer("CA", std::to_string(i)));
    EXPECT_TRUE(keys.all_absent(absent));
    mixed = absent;
    mixed.push_back(answer("CA", "49"));  // 49 % 7 == 0: a row was seen
    EXPECT_FALSE(keys.all_absent(mixed));
    EXPECT_FALSE(keys.all_absent({answer("CA", "50000")}));  // never looked up
}

TEST(AbsentKeys, AttemptsAndNameLookupsWithoutANumberWriteNoRow) {
    AbsentKeys keys;
    keys.note("CA", "100", false);
    Observation attempt = answer("CA", "999");
    attempt.attempt_only = true;
    Observation by_name;  // a name lookup the API could not match: no license number
    by_name.state = "CA";
    by_name.name = "Acme";
    by_name.outcome = "NOT_FOUND";
    EXPECT_TRUE(keys.all_absent({answer("CA", "100"), attempt, by_name}));
    EXPECT_TRUE(keys.all_absent({}));
}
