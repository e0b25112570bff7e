#include "core/batch_protocol.h"

#include "core/error.h"
#include "core/json_escape.h"
#include "core/normalize.h"

#include <nlohmann/json.hpp>

#include <unordered_map>

namespace cv::core {

namespace {

using nlohmann::json;

Observation base_observation(const LookupItem& item) {
    Observation o;
    o.id = item.lookup_id;
    o.state = item.state;
    o.license_number = item.license_number;
    o.name = item.name;
    o.request_kind = "batch";
    return o;
}

std::optional<std::string> id_of(const json& result) {
    auto it = result.find("id");
    if (it == result.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<long long>());
    return std::nullopt;
}

std::string string_or(const json& j, const char* key, const std::string& fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Takes the result over (it becomes the observation's raw record).
Observation answer_for(const LookupItem& item, json&& result, const std::string& batch_id) {
    Observation o = base_observation(item);
    o.http_status = 200;
    o.batch_id = batch_id;
    o.raw = std::move(result);
    const json& raw = o.raw;
    const std::string status = normalize_status(string_or(raw, "status", ""));
    if (status == "ERROR") {
        o.outcome = normalize_status(string_or(raw, "error_code", "UNKNOWN_ERROR"));
        if (o.outcome.empty() || o.outcome == outcome::kVerified) o.outcome = "UNKNOWN_ERROR";
        o.error_message = string_or(raw, "error_message", string_or(raw, "detail", ""));
        auto c = raw.find("candidates");
        if (c != raw.end() && c->is_array()) o.candidates = *c;
        return o;
    }
    try {
        o.record = parse_license_record(raw, RecordShape::BatchItem, item.state, item.license_number);
        o.outcome = outcome::kVerified;
    } catch (const Error& e) {
        o.record.reset();
        o.outcome = outcome::kMalformedResult;
        o.error_message = std::string("unreadable result: ") + e.what();
    }
    return o;
}

// Appends s as a JSON string, escaped as the JSON library escapes it; false
// (and nothing appended) when s holds a byte outside ASCII, which the
// library checks for valid UTF-8.
bool append_ascii_string(std::string& out, const std::string& s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    out += '"';
    static const char kHex[] = "0123456789abcdef";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (const char letter = json_escape_letter(c)) {
            out += '\\';
            out += letter;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += "\\u00";
            out += kHex[(c >> 4) & 0xf];
            out += kHex[c & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    return true;
}

// The body as the JSON library would print it, written directly (a chunk's
// body is built for every call); nullopt when a value is not ASCII.
std::optional<std::string> ascii_request_body(const std::vector<LookupItem>& items) {
    std::string out;
    out.reserve(16 + items.size() * 64);
    out += "{\"requests\":[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        const LookupItem& item = items[i];
        out += i == 0 ? "{\"id\":" : ",{\"id\":";
        if (!append_ascii_string(out, item.lookup_id)) return std::nullopt;
        const bool by_number = !item.license_number.empty();
        out += by_number ? ",\"license_number\":" : ",\"name\":";
        if (!append_ascii_string(out, by_number ? item.license_number : item.name)) return std::nullopt;
        out += ",\"state\":";
        if (!append_ascii_string(out, item.state)) return std::nullopt;
        out += '}';
    }
    out += "]}";
    return out;
}

}  // namespace

std::string batch_request_body(const std::vector<LookupItem>& items) {
    if (auto body = ascii_request_body(items)) return std::move(*body);
    json requests = json::array();
    for (const auto& item : items) {
        json r = {{"id", item.lookup_id}, {"state", item.state}};
        if (!item.license_number.empty())
            r["license_number"] = item.license_number;
        else
            r["name"] = item.name;
        requests.push_back(std::move(r));
    }
    return json{{"requests", std::move(requests)}}.dump();
}

Observation call_failed_observation(const LookupItem& item, const std::string& reason) {
    Observation o = base_observation(item);
    o.outcome = outcome::kCallFailed;
    o.error_message = reason;
    return o;
}

BatchInterpretation interpret_batch(const HttpResponse& r, const std::vector<LookupItem>& items) {
    BatchInterpretation out;
    // Call-level outcomes map as for a single lookup.
    const LookupTarget none{};
    if (r.transport_failed() || r.status != 200) {
        Interpretation call = interpret_single(r, none);
        out.verdict = call.verdict;
        out.reason = call.reason;
        out.retry_after = call.retry_after;
        if (call.verdict == Verdict::Answer) {  // a 4xx with a JSON body: not a batch answer
            out.verdict = Verdict::Malformed;
            const json body = parse_body(r.body);
            out.reason = "HTTP " + std::to_string(r.status);
            if (body.is_object())
                out.reason += " " + string_or(body, "error_code", "") + ": " + string_or(body, "detail", "");
        }
        return out;
    }

    json body = parse_body(r.body);
    auto results = body.is_object() ? body.find("results") : body.end();
    if (body.is_discarded() || !body.is_object() || results == body.end() || !results->is_array()) {
        // A 200 cut short or garbled on the way (a proxy, a dropped connection):
        // retried like a 5xx, since the next attempt usually reads fine.
        out.verdict = Verdict::Transient;
        out.reason = body.is_discarded() ? "HTTP 200 with a body that is not JSON"
                                         : "HTTP 200 without a \"results\" array";
        return out;
    }
    out.batch_id = string_or(body, "batch_id", "");

    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < items.size(); ++i) index.emplace(items[i].lookup_id, i);
    std::vector<std::optional<Observation>> answers(items.size());

    for (auto& result : *results) {
        const auto id = result.is_object() ? id_of(result) : std::nullopt;
        auto it = id ? index.find(*id) : index.end();
        if (it == index.end() || answers[it->second]) {
            Observation anomaly;
            anomaly.state = result.is_object() ? string_or(result, "state", "") : "";
            anomaly.license_number = result.is_object() ? string_or(result, "license_number", "") : "";
            anomaly.outcome = outcome::kUnexpectedResult;
            anomaly.error_message = it == index.end() ? "a result for an id that was not sent"
                                                      : "a second result for the same id";
            anomaly.http_status = 200;
            anomaly.raw = result;
            anomaly.batch_id = out.batch_id;
            anomaly.request_kind = "batch";
            anomaly.attempt_only = true;
            out.anomalies.push_back(std::move(anomaly));
            continue;
        }
        answers[it->second] = answer_for(items[it->second], std::move(result), out.batch_id);
    }

    out.answers.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (answers[i]) {
            out.answers.push_back(std::move(*answers[i]));
            continue;
        }
        Observation missing = base_observation(items[i]);
        missing.outcome = outcome::kMissingResult;
        missing.error_message = "the API's response had no result for this record";
        missing.http_status = 200;
        missing.batch_id = out.batch_id;
        out.answers.push_back(std::move(missing));
    }
    out.verdict = Verdict::Answer;
    return out;
}

}  // namespace cv::core
