#include "core/purchase_rounds.h"

#include <gtest/gtest.h>

#include <vector>

using namespace cv::core;

namespace {

std::vector<std::int64_t> rounds(std::int64_t misses, int batch, int concurrent) {
    PurchaseRounds r(misses, batch, concurrent);
    std::vector<std::int64_t> out;
    for (std::int64_t n = r.next(); n > 0; n = r.next()) out.push_back(n);
    return out;
}

std::int64_t calls(const std::vector<std::int64_t>& sizes, int batch) {
    std::int64_t c = 0;
    for (auto n : sizes) c += (n + batch - 1) / batch;
    return c;
}

}  // namespace

TEST(PurchaseRounds, FirstRoundIsOneCall) {
    EXPECT_EQ(rounds(250, 100, 4).front(), 100);
    EXPECT_EQ(rounds(30, 100, 4), (std::vector<std::int64_t>{30}));
    EXPECT_TRUE(rounds(0, 100, 4).empty());
}

TEST(PurchaseRounds, GrowsToTheCallsAllowedAtOnce) {
    EXPECT_EQ(rounds(1000, 100, 4), (std::vector<std::int64_t>{100, 200, 400, 300}));
    EXPECT_EQ(rounds(1000, 100, 1), (std::vector<std::int64_t>(10, 100)));
    EXPECT_EQ(rounds(1000, 100, 0), (std::vector<std::int64_t>(10, 100)));
}

TEST(PurchaseRounds, NoMoreCallsThanBuyingAllAtOnce) {
    for (std::int64_t misses : {1, 99, 100, 101, 200, 201, 999, 1000, 1001, 12345})
        for (int batch : {1, 7, 100})
            for (int concurrent : {1, 2, 3, 8}) {
                const auto sizes = rounds(misses, batch, concurrent);
                std::int64_t total = 0;
                for (std::size_t i = 0; i < sizes.size(); ++i) {
                    total += sizes[i];
                    if (i + 1 < sizes.size()) {
                        EXPECT_EQ(sizes[i] % batch, 0);
                    }
                }
                EXPECT_EQ(total, misses);
                EXPECT_EQ(calls(sizes, batch), (misses + batch - 1) / batch);
            }
}
