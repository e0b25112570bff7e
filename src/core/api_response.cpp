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

void scrub(json& j) {
    static const std::string kReplacement = "\xEF\xBF\xBD";
    auto fix = [](std::string& s) {
        for (std::size_t p = s.find('\0'); p != std::string::npos; p = s.find('\0', p + 3))
            s.replace(p, 1, kReplacement);
    };
    if (j.is_string()) {
        fix(j.get_ref<std::string&>());
    } else if (j.is_array()) {
        for (auto& e : j) scrub(e);
    } else if (j.is_object()) {
        bool bad_key = false;
        for (auto it = j.begin(); it != j.end(); ++it) {
            scrub(it.value());
            bad_key = bad_key || it.key().find('\0') != std::string::npos;
        }
        if (bad_key) {
            json fixed = json::object();
            for (auto it = j.begin(); it != j.end(); ++it) {
                std::string k = it.key();
                fix(k);
                fixed[k] = std::move(it.value());
            }
            j = std::move(fixed);
        }
    }
}

}  // namespace

// Deeper nesting than any record needs: refused before parsing, so no
// recursion (parsing, scrubbing, printing, storing as jsonb) can exhaust a stack.
constexpr int kMaxJsonDepth = 64;

bool too_deep(const std::string& body) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : body) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

json parse_body(const std::string& body) {
    if (too_deep(body)) return json(json::value_t::discarded);
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded()) scrub(parsed);
    return parsed;
}

json raw_body(const std::string& body) {
    json parsed = parse_body(body);
    if (!parsed.is_discarded()) return parsed;
    json unparsed = {{"unparsed_body", body.substr(0, 2000)}, {"body_bytes", body.size()}};
    scrub(unparsed);
    return unparsed;
}

std::string attempt_outcome(const HttpResponse& r, Verdict verdict) {
    if (r.transport_failed()) return "TRANSPORT_ERROR";
    if (r.status == 429) return "RATE_LIMITED";
    if (verdict == Verdict::Rejected) return "UNAUTHORIZED";
    // A 200 that is not an answer is an unreadable body, even when retried.
    if (verdict == Verdict::Malformed || (r.status == 200 && verdict != Verdict::Answer))
        return "MALFORMED_RESPONSE";
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

    const json body = parse_body(r.body);
    if (r.status == 504 && string_or(body, "error_code", "") == outcome::kStateTimeout) {
        // A board that did not answer: a per-record answer, not a gateway fault.
    } else if (r.status >= 500) {
        return fail(Verdict::Transient, "HTTP " + std::to_string(r.status));
    }
    // A 200 whose body cannot be read was most likely cut short or garbled on
    // the way: retried like a 5xx. Other statuses with such a body stay fatal.
    const Verdict unreadable = r.status == 200 ? Verdict::Transient : Verdict::Malformed;
    if (body.is_discarded())
        return fail(unreadable, "HTTP " + std::to_string(r.status) + " with a body that is not JSON");

    obs.raw = body;
    switch (r.status) {
        case 200:
            try {
                obs.record = parse_license_record(body, RecordShape::Single, target.state,
                                                  target.license_number);
            } catch (const Error& e) {
                // "HTTP " first: a call failing for good says the service failed.
                return fail(unreadable, std::string("HTTP 200 with an unreadable record: ") + e.what());
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
    if (!obs.verified() || r.status != 200) {
        obs.outcome = normalize_status(obs.outcome);
        // An error status naming no error (or "VERIFIED") is still an error.
        if (obs.outcome.empty() || obs.outcome == outcome::kVerified)
            obs.outcome = r.status == 404   ? outcome::kNotFound
                          : r.status == 409 ? outcome::kMultipleCandidates
                          : r.status == 504 ? outcome::kStateTimeout
                                            : outcome::kInvalidRequest;
        obs.error_message = string_or(body, "detail", string_or(body, "error_message", ""));
    }
    out.verdict = Verdict::Answer;
    return out;
}

}  // namespace cv::core
