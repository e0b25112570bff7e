#include "core/error.h"
#include "core/license_record.h"

#include <gtest/gtest.h>

using namespace cv::core;
using nlohmann::json;

TEST(LicenseRecord, SingleShapeWithStatus) {
    json j = json::parse(R"({
      "license_number": "1052183", "state": "CA", "license_type": "C-10",
      "classification": "Electrical", "classifications": ["C-10", "C-7"],
      "status": "Active", "issue_date": "2011-04-02", "expiration_date": "2027-02-28",
      "bond_amount": 2500000,
      "disciplinary_actions": [{"date": "2023-05-01", "type": "CITATION", "description": "x"}],
      "business_name": "Pacific Electric Inc",
      "address": {"street": "1 Main", "city": "SF", "state": "CA", "zip": "94107"},
      "insurance_required": true, "some_new_field": 42})");
    LicenseRecord r = parse_license_record(j, RecordShape::Single, "CA", "1052183");
    EXPECT_EQ(r.license_status, "ACTIVE");
    EXPECT_EQ(r.license_type, "C-10");
    EXPECT_EQ(r.classifications, (std::vector<std::string>{"C-10", "C-7"}));
    EXPECT_EQ(r.issue_date, "2011-04-02");
    EXPECT_EQ(r.expiration_date, "2027-02-28");
    EXPECT_EQ(r.bond_amount_cents, 2500000);
    EXPECT_TRUE(r.has_disciplinary_actions());
    EXPECT_EQ(r.address["zip"], "94107");
    EXPECT_EQ(r.insurance_required, true);
    EXPECT_EQ(r.to_json()["license_status"], "ACTIVE");
}

TEST(LicenseRecord, SingleShapeTolerances) {
    // license_status in place of status, lower case, classification only,
    // nulls, numbers as strings, dates with a time part.
    json j = json::parse(R"({"license_status": "suspended", "classification": "Roofing",
      "bond_amount": null, "expiration_date": "2026-01-31T00:00:00Z", "issue_date": null,
      "insurance_required": "yes"})");
    LicenseRecord r = parse_license_record(j, RecordShape::Single, "WA", "555001");
    EXPECT_EQ(r.state, "WA");
    EXPECT_EQ(r.license_number, "555001");
    EXPECT_EQ(r.license_status, "SUSPENDED");
    EXPECT_EQ(r.classifications, (std::vector<std::string>{"Roofing"}));
    EXPECT_FALSE(r.bond_amount_cents);
    EXPECT_FALSE(r.issue_date);
    EXPECT_EQ(r.expiration_date, "2026-01-31");
    EXPECT_EQ(r.insurance_required, true);
    EXPECT_FALSE(r.has_disciplinary_actions());
    EXPECT_TRUE(r.address.is_null());

    json s = json::parse(R"({"status": "EXPIRED", "bond_amount": "1500000"})");
    EXPECT_EQ(parse_license_record(s, RecordShape::Single, "CA", "1").bond_amount_cents, 1500000);
}

TEST(LicenseRecord, BatchShapeUsesLicenseStatus) {
    // In a batch result "status" is success/error, never the license's status.
    json j = json::parse(R"({"id": "c1", "status": "success", "license_number": "123456",
      "state": "CA", "license_status": "Expired", "expiration_date": "2025-11-30",
      "classifications": ["A"], "disciplinary_actions": []})");
    LicenseRecord r = parse_license_record(j, RecordShape::BatchItem, "CA", "123456");
    EXPECT_EQ(r.license_status, "EXPIRED");
    EXPECT_EQ(r.classifications, (std::vector<std::string>{"A"}));

    json no_license_status = json::parse(R"({"id": "c1", "status": "success"})");
    EXPECT_THROW(parse_license_record(no_license_status, RecordShape::BatchItem, "CA", "1"), Error);
}

TEST(LicenseRecord, RejectsNonObjectsAndMissingStatus) {
    EXPECT_THROW(parse_license_record(json::array(), RecordShape::Single, "CA", "1"), Error);
    EXPECT_THROW(parse_license_record(json::parse(R"({"state": "CA"})"), RecordShape::Single, "CA", "1"),
                 Error);
}

TEST(LicenseRecord, IsoDates) {
    EXPECT_EQ(parse_iso_date("2024-02-29"), "2024-02-29");
    EXPECT_FALSE(parse_iso_date("2023-02-29"));
    EXPECT_FALSE(parse_iso_date("2027-02-30"));
    EXPECT_FALSE(parse_iso_date("2027-13-01"));
    EXPECT_FALSE(parse_iso_date("02/28/2027"));
    EXPECT_FALSE(parse_iso_date("2027-02-28junk"));
    EXPECT_EQ(parse_iso_date("2027-02-28 10:00:00"), "2027-02-28");
    EXPECT_FALSE(parse_iso_date(""));
}

TEST(LicenseRecord, FromJsonKeepsDatesAndRefusesOthers) {
    LicenseRecord r;
    r.license_status = "ACTIVE";
    r.issue_date = "2012-02-29";
    r.expiration_date = "2030-01-01";
    const LicenseRecord back = LicenseRecord::from_json(r.to_json());
    EXPECT_EQ(back.issue_date, "2012-02-29");
    EXPECT_EQ(back.expiration_date, "2030-01-01");
    for (const char* bad : {"2030-02-30", "Jan 5 2030", "2030-01-01T00:00:00Z", ""}) {
        json j = r.to_json();
        j["expiration_date"] = bad;
        EXPECT_THROW(LicenseRecord::from_json(j), Error) << bad;
    }
}
