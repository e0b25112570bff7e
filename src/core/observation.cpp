#include "core/observation.h"

namespace cv::core {

bool Observation::billable() const {
    return !attempt_only && outcome != "MISSING_RESULT" && outcome != "CALL_FAILED" &&
           outcome != "INVALID_INPUT";
}

nlohmann::json Observation::to_json() const {
    using nlohmann::json;
    json j = {{"id", id.empty() ? json(nullptr) : json(id)},
              {"state", state},
              {"license_number", record ? json(record->license_number)
                                 : license_number.empty() ? json(nullptr)
                                                          : json(license_number)},
              {"requested_license_number", license_number.empty() ? json(nullptr) : json(license_number)},
              {"name", name.empty() ? json(nullptr) : json(name)},
              {"outcome", outcome},
              {"http_status", http_status == 0 ? json(nullptr) : json(http_status)},
              {"error_code", verified() ? json(nullptr) : json(outcome)},
              {"error_message", error_message.empty() ? json(nullptr) : json(error_message)},
              {"candidates", candidates},
              {"raw", raw},
              {"observed_at_ms", observed_at_ms},
              {"ttl_ms", ttl_ms ? json(*ttl_ms) : json(nullptr)},
              {"retry_at_ms", retry_at_ms ? json(*retry_at_ms) : json(nullptr)},
              {"batch_id", batch_id.empty() ? json(nullptr) : json(batch_id)},
              {"request_kind", request_kind},
              {"attempt_only", attempt_only},
              {"billable", billable()}};
    j["record"] = record ? record->to_json() : json(nullptr);
    return j;
}

}  // namespace cv::core
