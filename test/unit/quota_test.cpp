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

TEST(QuotaMonth, CalendarMonthsInUtc) {
    EXPECT_EQ(utc_month(1709251199), 2024 * 12 + 2);  // 2024-02-29T23:59:59Z
    EXPECT_EQ(utc_month(1709251200), 2024 * 12 + 3);  // 2024-03-01T00:00:00Z
    EXPECT_EQ(utc_month(946684799), 1999 * 12 + 12);  // 1999-12-31T23:59:59Z
    EXPECT_EQ(utc_month(946684800), 2000 * 12 + 1);   // 2000-01-01T00:00:00Z
    EXPECT_EQ(utc_month(946684800) - utc_month(946684799), 1);
    EXPECT_EQ(utc_month(-1), 1969 * 12 + 12);
}

TEST(QuotaMonth, Labels) {
    EXPECT_EQ(month_label(2024 * 12 + 3), "2024-03");
    EXPECT_EQ(month_label(1999 * 12 + 12), "1999-12");
    EXPECT_EQ(month_label(1 * 12 + 1), "0001-01");
    for (std::int32_t m = 2020 * 12 + 1; m <= 2030 * 12 + 12; ++m)
        EXPECT_EQ(parse_month_label(month_label(m)), m);
    for (const char* bad : {"", "2024-3", "2024-00", "2024-13", "0000-01", "2024/03", "2024-03 ",
                            "+024-03", "20a4-03", "12024-03"})
        EXPECT_FALSE(parse_month_label(bad).has_value()) << bad;
}
