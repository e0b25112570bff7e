#pragma once
#include "core/no_postgres.h"

#include "core/json_tape.h"
#include "core/license_record.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cv::core {

// Outcome names stored in the history table and returned as error_code.
namespace outcome {
inline constexpr const char* kVerified = "VERIFIED";
inline constexpr const char* kNotFound = "NOT_FOUND";
inline constexpr const char* kMultipleCandidates = "MULTIPLE_CANDIDATES";
inline constexpr const char* kStateTimeout = "STATE_TIMEOUT";
inline constexpr const char* kInvalidStateFormat = "INVALID_STATE_FORMAT";
inline constexpr const char* kInvalidRequest = "INVALID_REQUEST";
}  // namespace outcome

// What one lookup produced: a verified record or a per-record error, with
// everything the cache and the history table keep.
struct Observation {
    std::string id;              // the caller's id (batch), empty for single lookups
    std::string state;
    std::string license_number;  // as requested (empty for a name lookup)
    std::string name;            // as requested (name lookups)
    std::string outcome;         // outcome::kVerified or a per-record error code
    int http_status = 0;
    std::string error_message;
    nlohmann::json candidates;   // MULTIPLE_CANDIDATES: [{license_number, business_name}]
    std::optional<LicenseRecord> record;
    nlohmann::json raw;          // the record or error body as the API sent it
    // Or, for a batch's results: the raw record is node raw_node of this tape
    // (and raw stays null); raw_json() gives it either way.
    std::shared_ptr<const JsonTape> raw_tape;
    std::uint32_t raw_node = 0;
    std::int64_t observed_at_ms = 0;  // when the answer arrived (Unix ms)
    std::optional<std::int64_t> ttl_ms;  // nullopt: must not be cached
    std::optional<std::int64_t> retry_at_ms;  // STATE_TIMEOUT: when to try again
    std::string batch_id;
    std::string request_kind = "single";  // "single" or "batch"
    bool attempt_only = false;  // a failed attempt kept in history; no result row
    // Lookups this observation counts against the monthly quota; -1: one if
    // billable(), else none (a call whose response never arrived sets it).
    std::int32_t charged_lookups = -1;

    bool verified() const { return outcome == outcome::kVerified; }
    nlohmann::json raw_json() const { return raw_tape ? raw_tape->to_json(raw_node) : raw; }

    // The API answered this record, so it counts against the monthly quota:
    // not a failed attempt, a record the response omitted, or a failed call.
    bool billable() const;

    std::int32_t charged() const { return charged_lookups >= 0 ? charged_lookups : billable() ? 1 : 0; }

    // Every field as readable JSON (what is kept of a message the worker
    // could not record; the worker itself gets core/observation_codec's
    // binary form). Without `with_raw`, the raw record is left out (the
    // caller has it another way).
    nlohmann::json to_json(bool with_raw = true) const;

    // An observation as version 0.1.0 wrote it to its spool files (the
    // license number echoed by the API in "license_number", the requested one
    // in "requested_license_number", "billable" for the charge).
    static Observation from_legacy_json(const nlohmann::json& j);
};

}  // namespace cv::core
