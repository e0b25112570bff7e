#include "core/observation.h"

#include <stdexcept>

namespace cv::core {

bool Observation::billable() const {
    return !attempt_only && outcome != "MISSING_RESULT" && outcome != "CALL_FAILED" &&
           outcome != "INVALID_INPUT";
}

nlohmann::json Observation::to_json(bool with_raw) const {
    using nlohmann::json;
    auto opt = [](const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); };
    nlohmann::json j = {{"id", id},
            {"state", state},
            {"license_number", license_number},
            {"name", name},
            {"outcome", outcome},
            {"http_status", http_status},
            {"error_message", error_message},
            {"candidates", candidates},
            {"record", record ? record->to_json() : json(nullptr)},
            {"observed_at_ms", observed_at_ms},
            {"ttl_ms", opt(ttl_ms)},
            {"retry_at_ms", opt(retry_at_ms)},
            {"batch_id", batch_id},
            {"request_kind", request_kind},
            {"attempt_only", attempt_only},
            {"charged_lookups", charged_lookups}};
    if (with_raw) j["raw"] = raw_json();
    return j;
}

namespace {

std::string str_field(const nlohmann::json& j, const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> int_field(const nlohmann::json& j, const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? std::optional<std::int64_t>(it->get<std::int64_t>())
                                                     : std::nullopt;
}

// The fields of an observation in JSON; the license number is read from `license_key`.
Observation common_fields(const nlohmann::json& j, const char* license_key) {
    Observation o;
    o.id = str_field(j, "id");
    o.state = str_field(j, "state");
    o.license_number = str_field(j, license_key);
    o.name = str_field(j, "name");
    o.outcome = str_field(j, "outcome");
    o.http_status = static_cast<int>(int_field(j, "http_status").value_or(0));
    o.error_message = str_field(j, "error_message");
    if (auto it = j.find("candidates"); it != j.end()) o.candidates = *it;
    if (auto it = j.find("raw"); it != j.end()) o.raw = *it;
    if (auto it = j.find("record"); it != j.end() && it->is_object()) o.record = LicenseRecord::from_json(*it);
    o.observed_at_ms = int_field(j, "observed_at_ms").value_or(0);
    o.ttl_ms = int_field(j, "ttl_ms");
    o.retry_at_ms = int_field(j, "retry_at_ms");
    o.batch_id = str_field(j, "batch_id");
    o.request_kind = str_field(j, "request_kind");
    if (o.request_kind.empty()) o.request_kind = "single";
    if (auto it = j.find("attempt_only"); it != j.end() && it->is_boolean()) o.attempt_only = it->get<bool>();
    return o;
}

}  // namespace

Observation Observation::from_legacy_json(const nlohmann::json& j) {
    if (!j.is_object()) throw std::invalid_argument("an observation is not a JSON object");
    Observation o = common_fields(j, "requested_license_number");
    if (o.state.empty() || o.outcome.empty())
        throw std::invalid_argument("an observation without a state or an outcome");
    if (o.record) {
        o.record->state = o.state;
        o.record->license_number = str_field(j, "license_number");
    }
    const auto billable = j.find("billable");
    o.charged_lookups = billable != j.end() && billable->is_boolean() && billable->get<bool>() ? 1 : 0;
    return o;
}

}  // namespace cv::core
