#include "core/key_hash.h"

#include <gtest/gtest.h>

#include <set>

using namespace cv::core;

TEST(KeyHash, SameInputSameKey) {
    const std::string a = "http://h/v1", b = "CA", c = "1052183";
    EXPECT_EQ(key_hash({&a, &b, &c}), key_hash({&a, &b, &c}));
    EXPECT_EQ(key_hash({&a, &b, &c}, 5), key_hash({&a, &b, &c}, 5));
}

TEST(KeyHash, PartBoundariesAndSaltMatter) {
    const std::string ab = "ab", c = "c", a = "a", bc = "bc", empty;
    EXPECT_NE(key_hash({&ab, &c}), key_hash({&a, &bc}));
    EXPECT_NE(key_hash({&ab, &empty}), key_hash({&empty, &ab}));
    EXPECT_NE(key_hash({&ab}), key_hash({&ab, &empty}));
    EXPECT_NE(key_hash({&ab, &c}, 1), key_hash({&ab, &c}, 2));
}

TEST(KeyHash, DistinctLicensesDistinctKeys) {
    const std::string url = "http://h/v1", state = "CA";
    std::set<std::uint64_t> keys;
    for (int i = 0; i < 100000; ++i) {
        const std::string number = std::to_string(i);
        const auto k = key_hash({&url, &state, &number});
        EXPECT_NE(k, 0u);
        keys.insert(k);
    }
    EXPECT_EQ(keys.size(), 100000u);
}
