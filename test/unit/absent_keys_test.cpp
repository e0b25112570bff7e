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

TEST(AbsentKeys, ARowSeenLaterWins) {
    AbsentKeys keys;
    keys.note("CA", "100", false);
    keys.note("CA", "100", true);
    EXPECT_FALSE(keys.all_absent({answer("CA", "100")}));
    keys.note("CA", "100", false);
    EXPECT_TRUE(keys.all_absent({answer("CA", "100")}));
    EXPECT_EQ(keys.size(), 1u);
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
