#include "core/observation_codec.h"

#include "core/license_record.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace cv::core {

namespace {

// Tags in front of an optional<bool>.
constexpr std::uint8_t kNoValue = 0, kFalse = 1, kTrue = 2;

// CBOR's one-byte encodings of [] and {}.
constexpr std::uint8_t kCborEmptyArray = 0x80, kCborEmptyMap = 0xa0;

// A JSON value: its CBOR length (0 for null), then the CBOR bytes.
void put_json(ByteWriter& out, const nlohmann::json& j, std::string& scratch) {
    if (j.is_null()) {
        out.u32(0);
        return;
    }
    scratch.clear();
    nlohmann::json::to_cbor(j, scratch);
    out.str(scratch);
}

// Builds a JSON value from CBOR, refusing nesting deeper than JSON the API
// sends may have (a garbled message must not recurse without bound) and
// CBOR's binary strings (no JSON value holds one).
class BoundedBuilder final : public nlohmann::json::json_sax_t {
public:
    explicit BoundedBuilder(nlohmann::json& root) : root_(root) {}
    bool null() override { return put(nullptr) != nullptr; }
    bool boolean(bool v) override { return put(v) != nullptr; }
    bool number_integer(number_integer_t v) override { return put(v) != nullptr; }
    bool number_unsigned(number_unsigned_t v) override { return put(v) != nullptr; }
    bool number_float(number_float_t v, const string_t&) override { return put(v) != nullptr; }
    bool string(string_t& v) override { return put(std::move(v)) != nullptr; }
    bool binary(binary_t&) override { return false; }
    bool start_object(std::size_t) override { return open(nlohmann::json::object()); }
    bool key(string_t& k) override {
        key_ = std::move(k);
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(nlohmann::json::array()); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

private:
    static constexpr std::size_t kMaxDepth = 64;

    // Places v in the open container (or as the root); where it landed.
    nlohmann::json* put(nlohmann::json v) {
        if (open_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        nlohmann::json& parent = *open_.back();
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return &parent.back();
        }
        return &(parent[key_] = std::move(v));
    }
    bool open(nlohmann::json container) {
        if (open_.size() >= kMaxDepth) return false;
        open_.push_back(put(std::move(container)));
        return true;
    }
    bool close() {
        open_.pop_back();
        return true;
    }

    nlohmann::json& root_;
    std::vector<nlohmann::json*> open_;
    std::string key_;
};

nlohmann::json get_json(ByteReader& in) {
    const std::string_view bytes = in.str_view();
    nlohmann::json j;
    if (bytes.empty()) return j;
    // An empty array or object (most records' disciplinary actions): no parser.
    if (bytes.size() == 1 && static_cast<std::uint8_t>(bytes[0]) == kCborEmptyArray) return nlohmann::json::array();
    if (bytes.size() == 1 && static_cast<std::uint8_t>(bytes[0]) == kCborEmptyMap) return nlohmann::json::object();
    BoundedBuilder builder(j);
    bool ok = false;
    try {
        ok = nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &builder, nlohmann::json::input_format_t::cbor);
    } catch (const nlohmann::json::exception&) {
    }
    if (!ok) ByteReader::garbled("a binary message holds garbled CBOR");
    return j;
}

void put_record(ByteWriter& out, const LicenseRecord& r, bool without_address, std::string& scratch) {
    out.str(r.state);
    out.str(r.license_number);
    out.str(r.license_status);
    out.opt_str(r.license_type);
    out.u32(static_cast<std::uint32_t>(r.classifications.size()));
    for (const auto& c : r.classifications) out.str(c);
    out.opt_str(r.business_name);
    out.opt_str(r.issue_date);
    out.opt_str(r.expiration_date);
    out.opt_i64(r.bond_amount_cents);
    out.u8(!r.insurance_required ? kNoValue : *r.insurance_required ? kTrue : kFalse);
    put_json(out, r.disciplinary_actions, scratch);
    static const nlohmann::json kNone;
    put_json(out, without_address ? kNone : r.address, scratch);
}

// Dates come back only as parse_license_record leaves them.
std::optional<std::string> get_date(ByteReader& in) {
    auto s = in.opt_str();
    if (s && parse_iso_date(*s) != s) ByteReader::garbled("a binary message holds a date that is not YYYY-MM-DD");
    return s;
}

LicenseRecord get_record(ByteReader& in) {
    LicenseRecord r;
    r.state = in.str();
    r.license_number = in.str();
    r.license_status = in.str();
    r.license_type = in.opt_str();
    const std::uint32_t classes = in.u32();
    // Each needs at least its length: a count beyond that is garbled.
    if (classes > in.remaining() / sizeof(std::uint32_t)) ByteReader::garbled();
    r.classifications.reserve(classes);
    for (std::uint32_t i = 0; i < classes; ++i) r.classifications.push_back(in.str());
    r.business_name = in.opt_str();
    r.issue_date = get_date(in);
    r.expiration_date = get_date(in);
    r.bond_amount_cents = in.opt_i64();
    switch (in.u8()) {
    case kNoValue: break;
    case kFalse: r.insurance_required = false; break;
    case kTrue: r.insurance_required = true; break;
    default: ByteReader::garbled();
    }
    r.disciplinary_actions = get_json(in);
    r.address = get_json(in);
    return r;
}

}  // namespace

void encode_observation(const Observation& o, ByteWriter& out, bool raw_beside) {
    std::string scratch;
    out.str(o.id);
    out.str(o.state);
    out.str(o.license_number);
    out.str(o.name);
    out.str(o.outcome);
    out.i32(o.http_status);
    out.str(o.error_message);
    put_json(out, o.candidates, scratch);
    out.boolean(o.record.has_value());
    if (o.record) put_record(out, *o.record, raw_beside, scratch);
    out.i64(o.observed_at_ms);
    out.opt_i64(o.ttl_ms);
    out.opt_i64(o.retry_at_ms);
    out.str(o.batch_id);
    out.str(o.request_kind);
    out.boolean(o.attempt_only);
    out.i32(o.charged_lookups);
}

Observation decode_observation(ByteReader& in) {
    Observation o;
    o.id = in.str();
    o.state = in.str();
    o.license_number = in.str();
    o.name = in.str();
    o.outcome = in.str();
    o.http_status = in.i32();
    o.error_message = in.str();
    o.candidates = get_json(in);
    if (in.boolean()) o.record = get_record(in);
    o.observed_at_ms = in.i64();
    o.ttl_ms = in.opt_i64();
    o.retry_at_ms = in.opt_i64();
    o.batch_id = in.str();
    o.request_kind = in.str();
    o.attempt_only = in.boolean();
    o.charged_lookups = in.i32();
    return o;
}

}  // namespace cv::core
