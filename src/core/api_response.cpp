#include "core/api_response.h"

#include "core/error.h"
#include "core/normalize.h"

namespace cv::core {

namespace {

using nlohmann::json;

std::string transport_reason(const HttpResponse& r) {
    switch (r.error) {
        case TransportError::Timeout:
            return "timed out (" + r.error_text + ")";
        case TransportError::TooLarge:
            return "response body larger than max_response_bytes";
        default:
            return r.error_text.empty() ? "network error" : r.error_text;
    }
}

std::string string_or(const json& j, const char* key, const std::string& fallback) {
    if (j.is_object()) {
        auto it = j.find(key);
        if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
    return fallback;
}

}  // namespace

json raw_body(const std::string& body) {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded()) return parsed;
    return {{"unparsed_body", body.substr(0, 2000)}, {"body_bytes", body.size()}};
}

std::string attempt_outcome(const HttpResponse& r, Verdict verdict) {
    if (r.transport_failed()) return "TRANSPORT_ERROR";
    if (r.status == 429) return "RATE_LIMITED";
    if (verdict == Verdict::Rejected) return "UNAUTHORIZED";
    if (verdict == Verdict::Malformed) return "MALFORMED_RESPONSE";
    return "HTTP_" + std::to_string(r.status);
}

Interpretation interpret_single(const HttpResponse& r, const LookupTarget& target) {
    Interpretation out;
    Observation& obs = out.observation;
    obs.state = target.state;
    obs.license_number = target.license_number;
    obs.name = target.name;
    obs.http_status = static_cast<int>(r.status);

    auto fail = [&](Verdict v, std::string reason) {
        out.verdict = v;
        out.reason = std::move(reason);
        obs.outcome = attempt_outcome(r, v);
        obs.error_message = out.reason;
        obs.raw = r.transport_failed() ? json(nullptr) : raw_body(r.body);
        return out;
    };

    if (r.error == TransportError::TooLarge)
        return fail(Verdict::Malformed, transport_reason(r));
    if (r.transport_failed()) return fail(Verdict::Transient, transport_reason(r));

    if (r.status == 429) {
        out.retry_after = r.retry_after;
        return fail(Verdict::RetryAfter, "HTTP 429 (rate limited)");
    }
    if (r.status == 401 || r.status == 403)
        return fail(Verdict::Rejected, "HTTP " + std::to_string(r.status));

    const json body = json::parse(r.body, nullptr, false);
    if (r.status == 504 && string_or(body, "error_code", "") == outcome::kStateTimeout) {
        // A board that did not answer: a per-record answer, not a gateway fault.
    } else if (r.status >= 500) {
        return fail(Verdict::Transient, "HTTP " + std::to_string(r.status));
    }
    if (body.is_discarded())
        return fail(Verdict::Malformed, "HTTP " + std::to_string(r.status) + " with a body that is not JSON");

    obs.raw = body;
    switch (r.status) {
        case 200:
            try {
                obs.record = parse_license_record(body, RecordShape::Single, target.state,
                                                  target.license_number);
            } catch (const Error& e) {
                return fail(Verdict::Malformed, e.what());
            }
            obs.outcome = outcome::kVerified;
            break;
        case 404:
            obs.outcome = string_or(body, "error_code", outcome::kNotFound);
            break;
        case 409:
            obs.outcome = string_or(body, "error_code", outcome::kMultipleCandidates);
            if (body.is_object() && body.contains("candidates") && body["candidates"].is_array())
                obs.candidates = body["candidates"];
            break;
        case 422:
            obs.outcome = string_or(body, "error_code", outcome::kInvalidRequest);
            break;
        case 504:
            obs.outcome = outcome::kStateTimeout;
            break;
        default:
            return fail(Verdict::Malformed, "unexpected HTTP " + std::to_string(r.status));
    }
    if (!obs.verified()) {
        obs.outcome = normalize_status(obs.outcome);
        obs.error_message = string_or(body, "detail", string_or(body, "error_message", ""));
    }
    out.verdict = Verdict::Answer;
    return out;
}

}  // namespace cv::core
