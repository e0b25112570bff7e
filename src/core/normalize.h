#pragma once
#include "core/no_postgres.h"

#include <cstddef>
#include <optional>
#include <string>

namespace cv::core {

// Caller input is UTF-8 and goes through Unicode NFKC first, so that look-alike
// forms a spreadsheet or an IME produces (full-width "１０５２１８３", no-break or
// ideographic spaces, ligatures) mean the same as their plain forms. Invalid
// UTF-8, and any control (Cc) or format (Cf) character or U+2028 / U+2029 left
// after trimming, is refused with Error(InvalidParameter): an invisible
// character is never stripped silently, so a lookup never runs on a value
// other than the one the caller stored. Trimming removes ASCII whitespace
// (space, \t \n \v \f \r) and space separators (Zs: U+00A0, U+3000, ...) at
// either end; inside the value those controls are refused like any other.
// Upper-casing is ASCII-only: after NFKC the values that matter are ASCII, and
// ASCII upper-casing keeps the length and the normalization form unchanged.

// Longest license number accepted before any call is made, in characters
// (code points) of the normalized value.
inline constexpr std::size_t kMaxLicenseLength = 64;
// Longest business name accepted for a name lookup, in characters (code
// points) of the normalized value.
inline constexpr std::size_t kMaxNameLength = 256;
// Longest caller id accepted in a batch roster, in bytes: ids are opaque and
// are echoed back with every answer, so they are bounded by storage, not meaning.
inline constexpr std::size_t kMaxIdLength = 10000;

// NFKC-normalized, trimmed, upper-cased USPS code of one of the 50 states or
// DC ("ＣＡ" -> "CA"). Throws Error(InvalidParameter) with a hint otherwise.
std::string normalize_state(const std::string& state);

// NFKC-normalized, trimmed, upper-cased license number; rejects empty input,
// more than kMaxLicenseLength characters, invalid UTF-8, and control or format
// characters with Error(InvalidParameter).
std::string normalize_license_number(const std::string& license);

// NFKC-normalized, trimmed business name for a name lookup (case kept); the
// same rejections as a license number, with kMaxNameLength.
std::string normalize_lookup_name(const std::string& name);

// Dedup key of a business name: NFKC, then punctuation and parenthesized parts
// removed, whitespace collapsed, Unicode case folding (lower case for ASCII),
// legal suffixes (LLC, Inc, Corp, Co, Ltd, ...) stripped.
// "Pacific Northwest Roofing, L.L.C." -> "pacific northwest roofing".
// Letters, digits and combining marks of any script make up words; any other
// character separates them, except '.', '\'' and U+2019 (the typographic
// apostrophe), which join ("O’Brien" -> "obrien"). Throws
// Error(InvalidParameter) on invalid UTF-8.
std::string business_name_key(const std::string& name);

// "Active" -> "ACTIVE". ASCII only: statuses come from the API, not from callers.
std::string normalize_status(const std::string& status);

bool is_usps_state(const std::string& code);

// One roster row, normalized: a license lookup when a license number is given,
// else a name lookup. `key` deduplicates lookups: "L:CA:1052183" or
// "N:WA:pacific northwest roofing". An invalid row (including an `id` longer
// than kMaxIdLength bytes or not valid UTF-8) has `error` set and no key.
struct NormalizedInput {
    std::string state;
    std::string license_number;
    std::string name;
    std::string key;
    std::string error;
};
NormalizedInput normalize_input(const std::optional<std::string>& id,
                                const std::optional<std::string>& state,
                                const std::optional<std::string>& license_number,
                                const std::optional<std::string>& name);

}  // namespace cv::core
