#include "core/duration.h"

#include <gtest/gtest.h>

using cv::core::format_duration;
using cv::core::parse_duration;
using std::chrono::milliseconds;

TEST(Duration, BareNumberIsSeconds) { EXPECT_EQ(parse_duration("90"), milliseconds(90000)); }

TEST(Duration, Units) {
    EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
    EXPECT_EQ(parse_duration("30min"), milliseconds(30 * 60000));
    EXPECT_EQ(parse_duration("4h"), milliseconds(4 * 3600000));
    EXPECT_EQ(parse_duration(" 4 hours "), milliseconds(4 * 3600000));
    EXPECT_EQ(parse_duration("1d"), milliseconds(86400000));
    EXPECT_EQ(parse_duration("0"), milliseconds(0));
}

TEST(Duration, RejectsGarbage) {
    EXPECT_FALSE(parse_duration(""));
    EXPECT_FALSE(parse_duration("-5s"));
    EXPECT_FALSE(parse_duration("5 fortnights"));
    EXPECT_FALSE(parse_duration("h"));
    EXPECT_FALSE(parse_duration("1.5h"));
    EXPECT_FALSE(parse_duration("99999999999999999999"));
    EXPECT_FALSE(parse_duration("9999999999999999d"));
}

TEST(Duration, FormatPicksLargestUnit) {
    EXPECT_EQ(format_duration(milliseconds(4 * 3600000)), "4h");
    EXPECT_EQ(format_duration(milliseconds(90000)), "90s");
    EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
    EXPECT_EQ(format_duration(milliseconds(0)), "0ms");
}
