#include "core/license_record.h"

#include "core/error.h"
#include "core/json_view.h"
#include "core/normalize.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace cv::core {

namespace {

using nlohmann::json;

template <typename V>
std::optional<std::string> string_field(const V& j, const char* key) {
    auto v = j.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_string()) return std::string(v->string());
    if (v->is_number()) return v->to_json().dump();
    return std::nullopt;
}

template <typename V>
std::optional<std::string> date_field(const V& j, const char* key) {
    auto s = string_field(j, key);
    return s ? parse_iso_date(*s) : std::nullopt;
}

template <typename V>
std::optional<std::int64_t> cents_field(const V& j, const char* key) {
    auto v = j.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_number_integer()) return v->integer();
    if (v->is_number_float()) {
        const double d = v->floating();
        if (std::isfinite(d) && std::fabs(d) < 9e15) return static_cast<std::int64_t>(std::llround(d));
        return std::nullopt;
    }
    if (v->is_string()) {
        const std::string s(v->string());
        char* end = nullptr;
        const long long n = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end != nullptr && *end == '\0') return n;
    }
    return std::nullopt;
}

template <typename V>
std::optional<bool> bool_field(const V& j, const char* key) {
    auto v = j.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_boolean()) return v->boolean();
    if (v->is_string()) {
        const std::string s = normalize_status(std::string(v->string()));
        if (s == "TRUE" || s == "YES") return true;
        if (s == "FALSE" || s == "NO") return false;
    }
    return std::nullopt;
}

template <typename V>
LicenseRecord parse_record(const V& j, RecordShape shape, const std::string& requested_state,
                           const std::string& requested_license) {
    if (!j.is_object())
        throw Error(ErrorKind::RemoteProtocol, "license record is not a JSON object");
    LicenseRecord r;
    r.state = normalize_status(string_field(j, "state").value_or(requested_state));
    if (r.state.empty()) r.state = requested_state;
    r.license_number = string_field(j, "license_number").value_or(requested_license);

    std::optional<std::string> status = string_field(j, "license_status");
    if (!status && shape == RecordShape::Single) status = string_field(j, "status");
    if (!status)
        throw Error(ErrorKind::RemoteProtocol, "license record has no status",
                    {}, "Expected \"status\" or \"license_status\".");
    r.license_status = normalize_status(*status);

    r.license_type = string_field(j, "license_type");
    if (auto list = j.find("classifications"); list && list->is_array()) {
        list->for_each_element([&](const V& c) {
            if (c.is_string()) r.classifications.emplace_back(c.string());
        });
    } else if (auto c = string_field(j, "classification")) {
        r.classifications.push_back(*c);
    }
    r.business_name = string_field(j, "business_name");
    r.issue_date = date_field(j, "issue_date");
    r.expiration_date = date_field(j, "expiration_date");
    r.bond_amount_cents = cents_field(j, "bond_amount");
    r.insurance_required = bool_field(j, "insurance_required");
    if (auto v = j.find("disciplinary_actions"); v && v->is_array()) r.disciplinary_actions = v->to_json();
    if (auto v = j.find("address"); v && v->is_object()) r.address = v->to_json();
    return r;
}

}  // namespace

std::optional<std::string> parse_iso_date(const std::string& s) {
    if (s.size() < 10) return std::nullopt;
    for (int i = 0; i < 10; ++i) {
        const bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    }
    if (s.size() > 10 && s[10] != 'T' && s[10] != ' ') return std::nullopt;
    const int year = std::atoi(s.substr(0, 4).c_str());
    const int month = std::atoi(s.substr(5, 2).c_str());
    const int day = std::atoi(s.substr(8, 2).c_str());
    if (year < 1 || month < 1 || month > 12 || day < 1) return std::nullopt;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return std::nullopt;
    return s.substr(0, 10);
}

LicenseRecord parse_license_record(const json& j, RecordShape shape,
                                   const std::string& requested_state,
                                   const std::string& requested_license) {
    return parse_record(DomView(j), shape, requested_state, requested_license);
}

LicenseRecord parse_license_record(const JsonTape& tape, std::uint32_t node, RecordShape shape,
                                   const std::string& requested_state,
                                   const std::string& requested_license) {
    return parse_record(TapeView(tape, node), shape, requested_state, requested_license);
}

json LicenseRecord::to_json() const {
    auto opt = [](const auto& v) -> json { return v ? json(*v) : json(nullptr); };
    return {{"state", state},
            {"license_number", license_number},
            {"license_status", license_status.empty() ? json(nullptr) : json(license_status)},
            {"license_type", opt(license_type)},
            {"classifications", classifications},
            {"business_name", opt(business_name)},
            {"issue_date", opt(issue_date)},
            {"expiration_date", opt(expiration_date)},
            {"bond_amount_cents", opt(bond_amount_cents)},
            {"insurance_required", opt(insurance_required)},
            {"has_disciplinary_actions", has_disciplinary_actions()},
            {"disciplinary_actions", disciplinary_actions},
            {"address", address}};
}

LicenseRecord LicenseRecord::from_json(const json& j) {
    auto str = [&](const char* k) -> std::optional<std::string> {
        auto it = j.find(k);
        return it != j.end() && it->is_string() ? std::optional<std::string>(it->get<std::string>())
                                                : std::nullopt;
    };
    LicenseRecord r;
    r.state = str("state").value_or("");
    r.license_number = str("license_number").value_or("");
    r.license_status = str("license_status").value_or("");
    r.license_type = str("license_type");
    if (auto it = j.find("classifications"); it != j.end() && it->is_array())
        for (const auto& c : *it)
            if (c.is_string()) r.classifications.push_back(c.get<std::string>());
    r.business_name = str("business_name");
    // Dates come back as parse_license_record left them; anything else is
    // refused, so every record's dates are "YYYY-MM-DD".
    auto date = [&](const char* k) -> std::optional<std::string> {
        const auto s = str(k);
        if (!s) return std::nullopt;
        auto iso = parse_iso_date(*s);
        if (!iso || *iso != *s)
            throw Error(ErrorKind::Internal, std::string("license record's ") + k + " is not a YYYY-MM-DD date");
        return iso;
    };
    r.issue_date = date("issue_date");
    r.expiration_date = date("expiration_date");
    if (auto it = j.find("bond_amount_cents"); it != j.end() && it->is_number_integer())
        r.bond_amount_cents = it->get<std::int64_t>();
    if (auto it = j.find("insurance_required"); it != j.end() && it->is_boolean())
        r.insurance_required = it->get<bool>();
    if (auto it = j.find("disciplinary_actions"); it != j.end() && it->is_array())
        r.disciplinary_actions = *it;
    if (auto it = j.find("address"); it != j.end() && it->is_object()) r.address = *it;
    return r;
}

}  // namespace cv::core
