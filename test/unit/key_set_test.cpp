#include "core/key_set.h"

#include <gtest/gtest.h>

using namespace cv::core;

TEST(KeySet, HoldsEachKeyOnce) {
    KeySet set;
    EXPECT_FALSE(set.contains(42));
    for (std::uint64_t k = 1; k <= 1000; ++k) set.insert(k * 7919);
    for (std::uint64_t k = 1; k <= 1000; ++k) set.insert(k * 7919);
    EXPECT_EQ(set.size(), 1000u);
    for (std::uint64_t k = 1; k <= 1000; ++k) EXPECT_TRUE(set.contains(k * 7919));
    EXPECT_FALSE(set.contains(7919 * 1001));
    EXPECT_FALSE(set.contains(1));
}

// Keys alike in their low bits (as an outsider can make license numbers'
// FNV hashes) do not pile up in one run of slots.
TEST(KeySet, KeysAlikeInTheirLowBitsSpreadOut) {
    KeySet set;
    const std::uint64_t n = 100000;
    for (std::uint64_t k = 1; k <= n; ++k) set.insert((k << 24) | 0x5a5a5a);
    EXPECT_EQ(set.size(), n);
    EXPECT_LT(set.longest_probe(), 64u);
    for (std::uint64_t k = 1; k <= n; k += 97) EXPECT_TRUE(set.contains((k << 24) | 0x5a5a5a));
    EXPECT_FALSE(set.contains(((n + 1) << 24) | 0x5a5a5a));
}
