#include "core/normalize.h"

#include "core/error.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace cv::core {

namespace {

constexpr std::array<const char*, 51> kStates = {
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA",
    "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS",
    "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY"};

std::string trim(const std::string& s) {
    auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
    auto b = std::find_if_not(s.begin(), s.end(), is_space);
    auto e = std::find_if_not(s.rbegin(), s.rend(), is_space).base();
    return b < e ? std::string(b, e) : std::string();
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool has_control(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// Shown in errors: printable, and short.
std::string shown(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= 40) {
            out += "...";
            break;
        }
        out.push_back(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
    }
    return out;
}

}  // namespace

bool is_usps_state(const std::string& code) {
    return std::any_of(kStates.begin(), kStates.end(),
                       [&](const char* s) { return code == s; });
}

std::string normalize_state(const std::string& state) {
    const std::string code = upper(trim(state));
    if (code.empty())
        throw Error(ErrorKind::InvalidParameter, "state must not be empty",
                    "Pass a two-letter USPS code such as 'CA'.");
    if (!is_usps_state(code))
        throw Error(ErrorKind::InvalidParameter, "unknown state code \"" + shown(code) + "\"",
                    "Pass the two-letter USPS code of one of the 50 states or DC, such as 'CA' "
                    "or 'TX'.");
    return code;
}

std::string normalize_license_number(const std::string& license) {
    const std::string value = upper(trim(license));
    if (value.empty())
        throw Error(ErrorKind::InvalidParameter, "license number must not be empty",
                    "Pass the number issued by the state board, such as '1052183'.");
    if (value.size() > kMaxLicenseLength)
        throw Error(ErrorKind::InvalidParameter,
                    "license number is too long (" + std::to_string(value.size()) +
                        " characters; at most " + std::to_string(kMaxLicenseLength) + ")",
                    "Check that the column holds a license number and not free text.");
    if (has_control(value))
        throw Error(ErrorKind::InvalidParameter,
                    "license number \"" + shown(value) + "\" contains control characters");
    return value;
}

std::string normalize_lookup_name(const std::string& name) {
    const std::string value = trim(name);
    if (value.empty())
        throw Error(ErrorKind::InvalidParameter, "business name must not be empty",
                    "Pass the name on file with the state board, or look up by license number.");
    if (value.size() > kMaxNameLength)
        throw Error(ErrorKind::InvalidParameter,
                    "business name is too long (" + std::to_string(value.size()) +
                        " characters; at most " + std::to_string(kMaxNameLength) + ")");
    if (has_control(value))
        throw Error(ErrorKind::InvalidParameter, "business name contains control characters");
    return value;
}

std::string business_name_key(const std::string& name) {
    std::string words;
    int depth = 0;
    for (unsigned char c : name) {
        if (c == '(') {
            ++depth;
            continue;
        }
        if (c == ')') {
            if (depth > 0) --depth;
            continue;
        }
        if (depth > 0) continue;
        if (std::isalnum(c) || c >= 0x80) {
            words.push_back(static_cast<char>(std::tolower(c)));
        } else if (c == '.' || c == '\'') {
            // "L.L.C." -> "llc", "O'Brien" -> "obrien"
        } else if (!words.empty() && words.back() != ' ') {
            words.push_back(' ');
        }
    }
    while (!words.empty() && words.back() == ' ') words.pop_back();

    static const std::array<const char*, 12> suffixes = {
        "llc", "inc", "corp", "co", "ltd", "lp", "llp", "pllc", "incorporated", "corporation",
        "company", "limited"};
    for (bool stripped = true; stripped;) {
        stripped = false;
        const auto space = words.rfind(' ');
        if (space == std::string::npos) break;  // never strip a name down to nothing
        const std::string last = words.substr(space + 1);
        for (const char* s : suffixes) {
            if (last == s) {
                words.erase(space);
                stripped = true;
                break;
            }
        }
    }
    return words;
}

std::string normalize_status(const std::string& status) { return upper(trim(status)); }

NormalizedInput normalize_input(const std::optional<std::string>& state,
                                const std::optional<std::string>& license_number,
                                const std::optional<std::string>& name) {
    NormalizedInput out;
    try {
        if (!state) throw Error(ErrorKind::InvalidParameter, "state must not be NULL");
        out.state = normalize_state(*state);
        const bool has_license = license_number && !trim(*license_number).empty();
        const bool has_name = name && !trim(*name).empty();
        if (has_license) {
            out.license_number = normalize_license_number(*license_number);
            out.key = "L:" + out.state + ":" + out.license_number;
        } else if (has_name) {
            out.name = normalize_lookup_name(*name);
            const std::string name_key = business_name_key(out.name);
            if (name_key.empty())
                throw Error(ErrorKind::InvalidParameter, "business name has no letters or digits");
            out.key = "N:" + out.state + ":" + name_key;
        } else {
            throw Error(ErrorKind::InvalidParameter, "needs a license_number or a name");
        }
    } catch (const Error& e) {
        out.error = e.what();
        out.key.clear();
    }
    return out;
}

}  // namespace cv::core
