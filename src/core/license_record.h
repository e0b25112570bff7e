#pragma once
#include "core/no_postgres.h"

#include "core/json_tape.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cv::core {

// A license record from the API, normalized. The raw JSON is kept beside it
// (Observation::raw), with every extra field.
struct LicenseRecord {
    std::string state;
    std::string license_number;
    std::string license_status;  // upper case; empty if the API sent none
    std::optional<std::string> license_type;
    std::vector<std::string> classifications;
    std::optional<std::string> business_name;
    std::optional<std::string> issue_date;       // YYYY-MM-DD
    std::optional<std::string> expiration_date;  // YYYY-MM-DD
    std::optional<std::int64_t> bond_amount_cents;
    std::optional<bool> insurance_required;
    nlohmann::json disciplinary_actions = nlohmann::json::array();
    nlohmann::json address;  // object or null

    bool has_disciplinary_actions() const { return !disciplinary_actions.empty(); }
    // Every field, for handing a record to another process; from_json reads it back.
    nlohmann::json to_json() const;
    static LicenseRecord from_json(const nlohmann::json& j);
};

enum class RecordShape {
    Single,     // GET /verify: "status" or "license_status" holds the license status
    BatchItem,  // batch result: "status" is success/error, "license_status" the license's
};

// Parses a record, tolerating the variants of the contract: any letter case
// of the status, "license_status" for "status", "classification" and/or
// "classifications", dates with a time part, numbers sent as strings.
// requested_state / requested_license fill in what the record omits.
// Throws Error(RemoteProtocol) if j is not an object or holds no status.
LicenseRecord parse_license_record(const nlohmann::json& j, RecordShape shape,
                                   const std::string& requested_state,
                                   const std::string& requested_license);
// The same for node `node` of a tape.
LicenseRecord parse_license_record(const JsonTape& tape, std::uint32_t node, RecordShape shape,
                                   const std::string& requested_state,
                                   const std::string& requested_license);

// "2027-02-28" or "2027-02-28T00:00:00Z" -> "2027-02-28"; anything else -> nullopt.
std::optional<std::string> parse_iso_date(const std::string& s);

}  // namespace cv::core
