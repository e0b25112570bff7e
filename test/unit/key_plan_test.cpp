#include "core/key_plan.h"

#include <gtest/gtest.h>

using namespace cv::core;

TEST(KeyPlanner, DistinctLicensesOneLookupEach) {
    KeyPlanner p;
    EXPECT_EQ(p.add("CA", "1052183", KeyKind::License), 0);
    EXPECT_EQ(p.add("CA", "100001", KeyKind::License), 1);
    EXPECT_EQ(p.add("CA", "1052183", KeyKind::License), 0);  // a repeat: the same row
    EXPECT_EQ(p.add("TX", "1052183", KeyKind::License), 2);
    ASSERT_EQ(p.lookups().size(), 3u);
    EXPECT_EQ(p.lookups()[0].lookup_id, "1");
    EXPECT_EQ(p.lookups()[2].state, "TX");
    EXPECT_EQ(p.lookups()[2].lookup_id, "3");
    EXPECT_EQ(p.rows()[1].lookup, 1);
    EXPECT_EQ(p.keys_added(), 4);
    EXPECT_EQ(p.unmatchable(), 0);
}

TEST(KeyPlanner, KeysNotInTheStoredFormMatchNothingAndCostNothing) {
    KeyPlanner p;
    EXPECT_EQ(p.add("ca", "1052183", KeyKind::License), -1);
    EXPECT_EQ(p.add("CA", " 1052183", KeyKind::License), -1);
    EXPECT_EQ(p.add("CA", "ab123", KeyKind::License), -1);
    EXPECT_EQ(p.add("ca", "1052183", KeyKind::License), -1);
    EXPECT_TRUE(p.lookups().empty());
    EXPECT_TRUE(p.rows().empty());
    EXPECT_EQ(p.unmatchable(), 4);
    EXPECT_EQ(p.add("CA", "AB123", KeyKind::License), 0);
    EXPECT_EQ(p.lookups().size(), 1u);
}

TEST(KeyPlanner, KeysThatCannotBeLookedUpGetAnErrorRowAndNoLookup) {
    KeyPlanner p;
    EXPECT_EQ(p.add("ZZ", "1", KeyKind::License), 0);
    EXPECT_EQ(p.add("CA", "", KeyKind::License), 1);
    EXPECT_EQ(p.add("CA", std::string("10\x01", 3), KeyKind::License), 2);
    EXPECT_TRUE(p.lookups().empty());
    for (const auto& row : p.rows()) {
        EXPECT_EQ(row.lookup, -1);
        EXPECT_FALSE(row.error.empty());
    }
    EXPECT_EQ(p.rows()[0].state, "ZZ");
    EXPECT_EQ(p.rows()[1].value, "");
}

TEST(KeyPlanner, NamesShareALookupWhenTheyNormalizeAlikeAndKeepTheirOwnRow) {
    KeyPlanner p;
    EXPECT_EQ(p.add("WA", "Pacific Northwest Roofing LLC", KeyKind::Name), 0);
    EXPECT_EQ(p.add("WA", "PACIFIC NORTHWEST ROOFING, L.L.C.", KeyKind::Name), 1);
    EXPECT_EQ(p.add("WA", " Pacific Northwest Roofing LLC ", KeyKind::Name), 2);
    ASSERT_EQ(p.lookups().size(), 1u);
    EXPECT_EQ(p.lookups()[0].name, "Pacific Northwest Roofing LLC");
    EXPECT_TRUE(p.lookups()[0].license_number.empty());
    EXPECT_EQ(p.rows()[1].value, "PACIFIC NORTHWEST ROOFING, L.L.C.");
    EXPECT_EQ(p.rows()[1].lookup, 0);
    EXPECT_EQ(p.add("wa", "Pacific Northwest Roofing LLC", KeyKind::Name), -1);
}

TEST(KeyPlanner, ALicenseAndANameOfTheSameTextAreDifferentKeys) {
    KeyPlanner p;
    EXPECT_EQ(p.add("CA", "ACME", KeyKind::License), 0);
    EXPECT_EQ(p.add("CA", "ACME", KeyKind::Name), 1);
    EXPECT_EQ(p.lookups().size(), 2u);
}

TEST(KeyPlanner, TheStateAndTheValueCannotRunTogether) {
    KeyPlanner p;
    // "CA" + "1" and "C" + "A1" must not be one key.
    EXPECT_EQ(p.add("CA", "1", KeyKind::License), 0);
    EXPECT_EQ(p.add("C", "A1", KeyKind::License), 1);
    EXPECT_FALSE(p.rows()[1].error.empty());
}

TEST(LookupCost, CallsAreCeilingOfMissesOverTheBatchSize) {
    EXPECT_EQ(calls_needed(0, 100), 0);
    EXPECT_EQ(calls_needed(1, 100), 1);
    EXPECT_EQ(calls_needed(100, 100), 1);
    EXPECT_EQ(calls_needed(101, 100), 2);
    EXPECT_EQ(calls_needed(300, 100), 3);
    EXPECT_EQ(calls_needed(7, 0), 7);
}

TEST(LookupCost, BatchingAndTheCacheMakeLookupsCheaper) {
    // 300 keys in one set against one key per call, 300 times.
    const double batched = lookup_cost(300, 300, 100);
    const double one_by_one = 300 * lookup_cost(1, 1, 100);
    EXPECT_LT(batched * 10, one_by_one);
    // The cache answers most of them.
    EXPECT_LT(lookup_cost(300, 10, 100), batched / 5);
    EXPECT_DOUBLE_EQ(lookup_cost(300, 0, 100), 300 * kProbeCost);
}

TEST(KeyPlanner, ANameGivenAsTheBusinessNameIsMarkedOnItsRow) {
    KeyPlanner p;
    EXPECT_EQ(p.add("CA", "Pacific Electric Inc", KeyKind::Name), 0);
    EXPECT_FALSE(p.rows()[0].by_business_name);
    EXPECT_EQ(p.add("CA", "Pacific Electric Inc", KeyKind::Name, true), 0);  // the same row
    EXPECT_TRUE(p.rows()[0].by_business_name);
    EXPECT_EQ(p.add("CA", "Acme Roofing", KeyKind::Name, true), 1);
    EXPECT_TRUE(p.rows()[1].by_business_name);
    EXPECT_EQ(p.add("CA", "1052183", KeyKind::License, true), 2);  // only names
    EXPECT_FALSE(p.rows()[2].by_business_name);
}
