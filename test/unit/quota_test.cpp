#include "core/error.h"
#include "core/quota.h"

#include <gtest/gtest.h>

using namespace cv::core;

TEST(Quota, NoCapOrEnoughLeft) {
    EXPECT_NO_THROW(check_monthly_quota(0, 1000000, 500, "s"));
    EXPECT_NO_THROW(check_monthly_quota(1000, 800, 200, "s"));
    EXPECT_NO_THROW(check_monthly_quota(1000, 1200, 0, "s"));
}

TEST(Quota, RefusesWithNeedAndRemaining) {
    try {
        check_monthly_quota(1000, 850, 200, "contractor_verify");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
        EXPECT_STREQ(e.what(),
                     "this needs 200 lookups but only 150 of the monthly quota of 1000 remain on "
                     "server \"contractor_verify\"");
        EXPECT_NE(e.hint().find("Nothing was sent"), std::string::npos);
    }
    try {
        check_monthly_quota(10, 12, 1, "s");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("needs 1 lookup but only 0"), std::string::npos) << e.what();
    }
}
