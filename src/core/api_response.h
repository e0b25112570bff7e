#pragma once
#include "core/no_postgres.h"

#include "core/http_client.h"
#include "core/observation.h"

#include <chrono>
#include <optional>
#include <string>

namespace cv::core {

// What a lookup is for, normalized.
struct LookupTarget {
    std::string state;
    std::string license_number;  // empty for a name lookup
    std::string name;            // name lookups
};

// What to do with one HTTP response.
enum class Verdict {
    Answer,      // a record or a per-record error: done
    RetryAfter,  // 429: wait (retry_after or backoff), then retry
    Transient,   // network error or 5xx: back off and retry
    Rejected,    // 401/403: the key was refused
    Malformed,   // unparseable, oversized or unexpected body: fail, cache nothing
};

struct Interpretation {
    Verdict verdict = Verdict::Transient;
    Observation observation;  // Answer: the outcome; otherwise a history-only record
    std::string reason;       // for messages: "HTTP 503", "Connection refused", ...
    std::optional<std::chrono::seconds> retry_after;
};

// Maps a GET /verify response as ../shared/API.md says: 200 verified; 404,
// 409, 422 and a JSON 504 STATE_TIMEOUT are per-record answers; 429 waits;
// network errors and 5xx retry; 401/403 are a rejected key.
Interpretation interpret_single(const HttpResponse& response, const LookupTarget& target);

// Parses a response body. A NUL character in any string or key (a "\u0000"
// escape) becomes U+FFFD: no text or jsonb value can hold it, and one such
// answer must never stop its chunk from being recorded. Discarded (not
// throwing) when the body is not JSON or nests deeper than 64 levels.
nlohmann::json parse_body(const std::string& body);

// The body kept in history for a non-JSON or unparseable response.
nlohmann::json raw_body(const std::string& body);

// Outcome recorded in history for a failed attempt ("HTTP_503", "RATE_LIMITED",
// "TRANSPORT_ERROR", "MALFORMED_RESPONSE", "UNAUTHORIZED").
std::string attempt_outcome(const HttpResponse& response, Verdict verdict);

}  // namespace cv::core
