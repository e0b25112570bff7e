#pragma once
#include "core/no_postgres.h"

#include <optional>
#include <string>

namespace cv::core {

// Longest license number accepted before any call is made.
inline constexpr std::size_t kMaxLicenseLength = 64;
// Longest business name accepted for a name lookup.
inline constexpr std::size_t kMaxNameLength = 256;

// Upper-cased, trimmed USPS code of one of the 50 states or DC. Throws
// Error(InvalidParameter) with a hint otherwise.
std::string normalize_state(const std::string& state);

// Trimmed, upper-cased license number; rejects empty, over-long, or
// control-character input with Error(InvalidParameter).
std::string normalize_license_number(const std::string& license);

// Trimmed business name for a name lookup (case kept); rejects empty or over-long.
std::string normalize_lookup_name(const std::string& name);

// Dedup key of a business name: lower case, punctuation and parenthesized
// parts removed, whitespace collapsed, legal suffixes (LLC, Inc, Corp, Co,
// Ltd, ...) stripped. "Pacific Northwest Roofing, L.L.C." -> "pacific northwest roofing".
std::string business_name_key(const std::string& name);

// "Active" -> "ACTIVE".
std::string normalize_status(const std::string& status);

bool is_usps_state(const std::string& code);

// One roster row, normalized: a license lookup when a license number is given,
// else a name lookup. `key` deduplicates lookups: "L:CA:1052183" or
// "N:WA:pacific northwest roofing". An invalid row has `error` set and no key.
struct NormalizedInput {
    std::string state;
    std::string license_number;
    std::string name;
    std::string key;
    std::string error;
};
NormalizedInput normalize_input(const std::optional<std::string>& state,
                                const std::optional<std::string>& license_number,
                                const std::optional<std::string>& name);

}  // namespace cv::core
