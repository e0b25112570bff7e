#include "core/error.h"
#include "core/normalize.h"

#include <gtest/gtest.h>

using namespace cv::core;

TEST(Normalize, StateCodes) {
    EXPECT_EQ(normalize_state(" ca "), "CA");
    EXPECT_EQ(normalize_state("dc"), "DC");
    EXPECT_EQ(normalize_state("Wy"), "WY");
    EXPECT_THROW(normalize_state(""), Error);
    EXPECT_THROW(normalize_state("XX"), Error);
    EXPECT_THROW(normalize_state("PR"), Error);  // territories are not covered
    EXPECT_THROW(normalize_state("California"), Error);
    try {
        normalize_state("zz");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidParameter);
        EXPECT_NE(e.hint().find("USPS"), std::string::npos);
    }
}

TEST(Normalize, LicenseNumbers) {
    EXPECT_EQ(normalize_license_number("  1052183\t"), "1052183");
    EXPECT_EQ(normalize_license_number("cbc1234567"), "CBC1234567");
    EXPECT_EQ(normalize_license_number(std::string(64, '9')), std::string(64, '9'));
    EXPECT_THROW(normalize_license_number(std::string(65, '9')), Error);
    EXPECT_THROW(normalize_license_number("   "), Error);
    EXPECT_THROW(normalize_license_number("12\n34"), Error);
    EXPECT_THROW(normalize_license_number(std::string("12\0""34", 5)), Error);
}

TEST(Normalize, LookupNames) {
    EXPECT_EQ(normalize_lookup_name("  Pacific Electric Inc "), "Pacific Electric Inc");
    EXPECT_THROW(normalize_lookup_name(""), Error);
    EXPECT_THROW(normalize_lookup_name(std::string(257, 'x')), Error);
}

TEST(Normalize, BusinessNameKeysDeduplicate) {
    EXPECT_EQ(business_name_key("Pacific Northwest Roofing LLC"), "pacific northwest roofing");
    EXPECT_EQ(business_name_key("PACIFIC NORTHWEST ROOFING, L.L.C."), "pacific northwest roofing");
    EXPECT_EQ(business_name_key("Pacific Northwest Roofing LLC (2)"), "pacific northwest roofing");
    EXPECT_EQ(business_name_key("Sunshine Builders, Inc."), "sunshine builders");
    EXPECT_EQ(business_name_key("Acme Co. Ltd"), "acme");
    EXPECT_EQ(business_name_key("  O'Brien   & Sons  Corp "), "obrien sons");
    // A name made only of a suffix word stays itself.
    EXPECT_EQ(business_name_key("Company"), "company");
    EXPECT_NE(business_name_key("Acme Roofing"), business_name_key("Acme Plumbing"));
}

TEST(Normalize, Status) {
    EXPECT_EQ(normalize_status("Active"), "ACTIVE");
    EXPECT_EQ(normalize_status(" suspended "), "SUSPENDED");
}

TEST(Normalize, RosterRows) {
    auto a = normalize_input(std::string("ca"), std::string(" 1052183 "), std::nullopt);
    EXPECT_EQ(a.error, "");
    EXPECT_EQ(a.key, "L:CA:1052183");
    auto b = normalize_input(std::string("CA"), std::string("1052183"), std::string("ignored"));
    EXPECT_EQ(b.key, a.key);  // a license number wins over a name
    auto n1 = normalize_input(std::string("WA"), std::string(""), std::string("Pacific Northwest Roofing LLC"));
    auto n2 = normalize_input(std::string("wa"), std::nullopt, std::string("PACIFIC NORTHWEST ROOFING, L.L.C."));
    EXPECT_EQ(n1.key, "N:WA:pacific northwest roofing");
    EXPECT_EQ(n1.key, n2.key);
    EXPECT_EQ(n1.name, "Pacific Northwest Roofing LLC");

    EXPECT_EQ(normalize_input(std::nullopt, std::string("1"), std::nullopt).error, "state must not be NULL");
    EXPECT_EQ(normalize_input(std::string("XX"), std::string("1"), std::nullopt).error, "unknown state code \"XX\"");
    EXPECT_EQ(normalize_input(std::string("CA"), std::nullopt, std::nullopt).error, "needs a license_number or a name");
    EXPECT_EQ(normalize_input(std::string("CA"), std::string("  "), std::string(" ")).error, "needs a license_number or a name");
    EXPECT_EQ(normalize_input(std::string("CA"), std::nullopt, std::string("!!!")).error,
              "business name has no letters or digits");
    EXPECT_TRUE(normalize_input(std::string("CA"), std::string(100, '9'), std::nullopt).key.empty());
}
