#pragma once
#include "core/no_postgres.h"

#include "core/api_response.h"
#include "core/http_client.h"
#include "core/observation.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cv::core {

// Per-record error codes the extension itself gives (beside the API's).
namespace outcome {
inline constexpr const char* kInvalidInput = "INVALID_INPUT";      // rejected before any call
inline constexpr const char* kMissingResult = "MISSING_RESULT";    // the response omitted the record
inline constexpr const char* kMalformedResult = "MALFORMED_RESULT";  // the record's result was unreadable
inline constexpr const char* kCallFailed = "CALL_FAILED";          // the chunk's call failed for good
inline constexpr const char* kUnexpectedResult = "UNEXPECTED_RESULT";  // history only: an invented id
}  // namespace outcome

// One distinct lookup of a batch; lookup_id is unique within the batch and is
// the id sent to the API.
struct LookupItem {
    std::string lookup_id;
    std::string state;
    std::string license_number;  // empty for a name lookup
    std::string name;
};

// {"requests": [{"id", "state", "license_number" | "name"}, ...]}
std::string batch_request_body(const std::vector<LookupItem>& items);

struct BatchInterpretation {
    Verdict verdict = Verdict::Transient;
    std::vector<Observation> answers;    // Answer: exactly one per item, in item order
    std::vector<Observation> anomalies;  // history only: invented or repeated ids
    std::string reason;
    std::optional<std::chrono::seconds> retry_after;
    std::string batch_id;
};

// Maps a POST /verify/batch response. Results are matched by id, never by
// position: a record the response omits gets a MISSING_RESULT answer, an id
// the response invents is never assigned (it becomes an anomaly), a result
// that cannot be read gets MALFORMED_RESULT. Call-level outcomes (429, 5xx,
// network errors, 401/403, a body that is not a batch response) are verdicts
// as for single lookups.
BatchInterpretation interpret_batch(const HttpResponse& response,
                                    const std::vector<LookupItem>& items);

// The answer for an item whose call failed for good (CALL_FAILED).
Observation call_failed_observation(const LookupItem& item, const std::string& reason);

}  // namespace cv::core
