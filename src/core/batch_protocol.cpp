#include "core/batch_protocol.h"

#include "core/error.h"
#include "core/json_escape.h"
#include "core/json_view.h"
#include "core/normalize.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <unordered_map>

namespace cv::core {

namespace {

using nlohmann::json;

void set_base(Observation& o, const LookupItem& item) {
    o.id = item.lookup_id;
    o.state = item.state;
    o.license_number = item.license_number;
    o.name = item.name;
    o.request_kind = "batch";
}

Observation base_observation(const LookupItem& item) {
    Observation o;
    set_base(o, item);
    return o;
}

template <typename V>
std::optional<std::string> id_of(const V& result) {
    auto id = result.find("id");
    if (!id) return std::nullopt;
    if (id->is_string()) return std::string(id->string());
    if (id->is_number_integer()) return std::to_string(id->integer());
    return std::nullopt;
}

template <typename V>
std::string string_or(const V& j, const char* key, const std::string& fallback) {
    auto v = j.find(key);
    return v && v->is_string() ? std::string(v->string()) : fallback;
}

LicenseRecord record_of(const DomView& v, const LookupItem& item) {
    return parse_license_record(v.json(), RecordShape::BatchItem, item.state, item.license_number);
}
LicenseRecord record_of(const TapeView& v, const LookupItem& item) {
    return parse_license_record(v.tape(), v.node(), RecordShape::BatchItem, item.state, item.license_number);
}

// Makes o (a new observation) the answer a result gives; the caller
// attaches the raw record.
template <typename V>
void answer_for(Observation& o, const LookupItem& item, const V& raw, const std::string& batch_id) {
    set_base(o, item);
    o.http_status = 200;
    o.batch_id = batch_id;
    const std::string status = normalize_status(string_or(raw, "status", ""));
    if (status == "ERROR") {
        o.outcome = normalize_status(string_or(raw, "error_code", "UNKNOWN_ERROR"));
        if (o.outcome.empty() || o.outcome == outcome::kVerified) o.outcome = "UNKNOWN_ERROR";
        o.error_message = string_or(raw, "error_message", string_or(raw, "detail", ""));
        if (auto c = raw.find("candidates"); c && c->is_array()) o.candidates = c->to_json();
        return;
    }
    try {
        o.record = record_of(raw, item);
        o.outcome = outcome::kVerified;
    } catch (const Error& e) {
        o.record.reset();
        o.outcome = outcome::kMalformedResult;
        o.error_message = std::string("unreadable result: ") + e.what();
    }
}

// Fills out's answers and anomalies from a 200's body; false (and out's
// reason set) when the body is not a batch response. keep_raw(observation,
// result) attaches a result's raw record to its observation.
template <typename V, typename KeepRaw>
bool interpret_results(const V& body, const std::vector<LookupItem>& items, BatchInterpretation& out,
                       KeepRaw&& keep_raw) {
    auto results = body.find("results");
    if (!body.is_object() || !results || !results->is_array()) {
        out.reason = "HTTP 200 without a \"results\" array";
        return false;
    }
    out.batch_id = string_or(body, "batch_id", "");

    std::unordered_map<std::string, std::size_t> index;
    index.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) index.emplace(items[i].lookup_id, i);
    // Answers are made in place, in item order (an observation is large:
    // moving it again costs more than making it).
    out.answers.resize(items.size());
    std::vector<bool> answered(items.size(), false);

    results->for_each_element([&](const V& result) {
        const auto id = result.is_object() ? id_of(result) : std::nullopt;
        auto it = id ? index.find(*id) : index.end();
        if (it == index.end() || answered[it->second]) {
            Observation anomaly;
            anomaly.state = string_or(result, "state", "");
            anomaly.license_number = string_or(result, "license_number", "");
            anomaly.outcome = outcome::kUnexpectedResult;
            anomaly.error_message = it == index.end() ? "a result for an id that was not sent"
                                                      : "a second result for the same id";
            anomaly.http_status = 200;
            keep_raw(anomaly, result);
            anomaly.batch_id = out.batch_id;
            anomaly.request_kind = "batch";
            anomaly.attempt_only = true;
            out.anomalies.push_back(std::move(anomaly));
            return;
        }
        Observation& answer = out.answers[it->second];
        answered[it->second] = true;
        answer_for(answer, items[it->second], result, out.batch_id);
        keep_raw(answer, result);
    });

    for (std::size_t i = 0; i < items.size(); ++i) {
        if (answered[i]) continue;
        Observation& missing = out.answers[i];
        set_base(missing, items[i]);
        missing.outcome = outcome::kMissingResult;
        missing.error_message = "the API's response had no result for this record";
        missing.http_status = 200;
        missing.batch_id = out.batch_id;
    }
    out.verdict = Verdict::Answer;
    return true;
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
                out.reason += " " + string_or(DomView(body), "error_code", "") + ": " +
                              string_or(DomView(body), "detail", "");
        }
        return out;
    }

    // Most bodies are read by the tape reader, with no tree built per record;
    // what it does not accept is read by the JSON library, which decides.
    if (auto tape = JsonTape::read(r.body)) {
        auto shared = std::make_shared<const JsonTape>(std::move(*tape));
        const bool read = interpret_results(TapeView(*shared, 0), items, out,
                                            [&](Observation& o, const TapeView& result) {
                                                o.raw_tape = shared;
                                                o.raw_node = result.node();
                                            });
        if (!read) out.verdict = Verdict::Transient;
        return out;
    }
    json body = parse_body(r.body);
    if (body.is_discarded()) {
        // A 200 cut short or garbled on the way (a proxy, a dropped connection):
        // retried like a 5xx, since the next attempt usually reads fine.
        out.verdict = Verdict::Transient;
        out.reason = "HTTP 200 with a body that is not JSON";
        return out;
    }
    if (!interpret_results(DomView(body), items, out,
                           [](Observation& o, const DomView& result) { o.raw = result.json(); }))
        out.verdict = Verdict::Transient;
    return out;
}

}  // namespace cv::core
