#include "dataset.h"

#include "dates.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace cvsim {

namespace {

// License-number format of a state board: an optional letter prefix from a
// fixed list, then digits; or (alnum) letters and digits of a given length.
struct Format {
    const char* state;
    std::vector<std::string> prefixes;  // empty: digits only
    int min_len;
    int max_len;
    bool alnum;
};

const std::vector<Format>& formats() {
    static const std::vector<Format> f = {
        {"AL", {}, 5, 6, false},     {"AK", {}, 6, 6, false},
        {"AZ", {"ROC"}, 6, 6, false}, {"AR", {}, 7, 8, false},
        {"CA", {}, 6, 8, false},     {"CO", {"EC", "PC"}, 5, 6, false},
        {"CT", {"HIC"}, 6, 7, false}, {"DE", {}, 7, 7, false},
        {"DC", {"GC"}, 5, 6, false},  {"FL", {"CBC", "CGC", "CRC", "EC"}, 6, 7, false},
        {"GA", {"GCCO"}, 5, 6, false}, {"HI", {"CT"}, 5, 6, false},
        {"ID", {"RCE"}, 5, 6, false}, {"IL", {}, 6, 8, false},
        {"IN", {"PC"}, 6, 8, false},  {"IA", {"C"}, 5, 6, false},
        {"KS", {}, 5, 7, false},     {"KY", {"HM"}, 5, 6, false},
        {"LA", {}, 5, 6, false},     {"ME", {"MS"}, 5, 6, false},
        {"MD", {}, 6, 7, false},     {"MA", {"CS"}, 6, 6, false},
        {"MI", {}, 7, 10, false},    {"MN", {"BC"}, 6, 6, false},
        {"MS", {}, 5, 6, false},     {"MO", {}, 6, 10, false},
        {"MT", {}, 5, 6, false},     {"NE", {}, 5, 6, false},
        {"NV", {}, 5, 7, false},     {"NH", {}, 4, 5, false},
        {"NJ", {"13VH"}, 8, 8, false}, {"NM", {}, 5, 6, false},
        {"NY", {}, 6, 7, false},     {"NC", {}, 5, 6, false},
        {"ND", {}, 5, 6, false},     {"OH", {}, 5, 6, false},
        {"OK", {"CIB"}, 6, 6, false}, {"OR", {}, 5, 6, false},
        {"PA", {"PA"}, 6, 6, false},  {"RI", {}, 5, 6, false},
        {"SC", {"G"}, 5, 6, false},   {"SD", {}, 5, 6, false},
        {"TN", {}, 5, 6, false},     {"TX", {"TACLA", "TECL"}, 5, 6, false},
        {"UT", {}, 6, 10, false},    {"VT", {}, 6, 7, false},
        {"VA", {"2705"}, 6, 6, false}, {"WA", {}, 6, 12, true},
        {"WV", {"WV"}, 6, 6, false},  {"WI", {}, 6, 7, false},
        {"WY", {}, 4, 6, false},
    };
    return f;
}

const Format* format_for(const std::string& state) {
    for (const auto& f : formats())
        if (state == f.state) return &f;
    return nullptr;
}

bool matches(const Format& f, const std::string& license) {
    if (f.alnum) {
        const int n = static_cast<int>(license.size());
        return n >= f.min_len && n <= f.max_len &&
               std::all_of(license.begin(), license.end(), [](unsigned char c) {
                   return std::isdigit(c) || std::isupper(c);
               });
    }
    auto all_digits = [&](std::size_t from) {
        const int n = static_cast<int>(license.size() - from);
        if (n < f.min_len || n > f.max_len) return false;
        for (std::size_t i = from; i < license.size(); ++i)
            if (!std::isdigit(static_cast<unsigned char>(license[i]))) return false;
        return true;
    };
    if (f.prefixes.empty()) return all_digits(0);
    for (const auto& p : f.prefixes)
        if (license.rfind(p, 0) == 0 && all_digits(p.size())) return true;
    return false;
}

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

// splitmix64 step: independent draws from one seed.
std::uint64_t mix(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

template <std::size_t N>
const char* pick(std::uint64_t& s, const std::array<const char*, N>& items) {
    return items[mix(s) % N];
}

struct Trade {
    const char* code;
    const char* name;
};

constexpr std::array<Trade, 10> kTrades = {{{"B", "General Building"},
                                            {"C-10", "Electrical"},
                                            {"C-36", "Plumbing"},
                                            {"C-39", "Roofing"},
                                            {"C-20", "HVAC"},
                                            {"C-33", "Painting"},
                                            {"C-27", "Landscaping"},
                                            {"C-8", "Concrete"},
                                            {"C-46", "Solar"},
                                            {"A", "General Engineering"}}};

constexpr std::array<const char*, 12> kNameWords = {
    "Pacific", "Summit", "Golden", "Evergreen", "Liberty", "Keystone",
    "Prairie", "Harbor",  "Granite", "Cascade",  "Frontier", "Redwood"};
constexpr std::array<const char*, 5> kSuffixes = {"Inc", "LLC", "Co", "Corp", "Ltd"};
constexpr std::array<const char*, 8> kCities = {"Springfield", "Riverside", "Franklin", "Greenville",
                                                "Bristol",     "Clinton",   "Salem",    "Fairview"};
constexpr std::array<const char*, 6> kStreets = {"Main St", "Oak Ave", "Industrial Way",
                                                 "Commerce Dr", "Market St", "Elm St"};
constexpr std::array<const char*, 4> kActionTypes = {"CITATION", "FINE", "PROBATION", "ACCUSATION"};

// Named fixtures: license records with fixed names, for docs and name lookups.
struct Fixture {
    const char* state;
    const char* license;
    const char* business_name;
};

constexpr std::array<Fixture, 7> kFixtures = {{
    {"CA", "1052183", "Pacific Electric Inc"},
    {"TX", "TACLA12345", "Lone Star Plumbing Co"},
    {"WA", "555001", "Pacific Northwest Roofing LLC"},
    {"WA", "555442", "Pacific Northwest Roofing LLC (2)"},
    {"WA", "556109", "Pacific Northwest Roofing LLC"},
    {"FL", "CBC1234567", "Sunshine Builders Inc"},
    {"FL", "CGC7654321", "Sunshine Builders, Inc."},
}};

std::string title_case(const std::string& s) {
    std::string out = s;
    for (std::size_t i = 1; i < out.size(); ++i)
        out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
    return out;
}

// INVALID_REQUEST for an unknown state or a lookup with nothing to look up.
bool rejected(const std::string& state, bool nothing_to_look_up, Outcome& out) {
    out.kind = OutcomeKind::InvalidRequest;
    if (format_for(state) == nullptr) {
        out.detail = "Unknown state code '" + state + "'. Use a two-letter USPS code.";
        return true;
    }
    if (nothing_to_look_up) {
        out.detail = "Provide license_number or name.";
        return true;
    }
    return false;
}

}  // namespace

const char* error_code(OutcomeKind kind) {
    switch (kind) {
        case OutcomeKind::Found:
            return nullptr;
        case OutcomeKind::NotFound:
            return "NOT_FOUND";
        case OutcomeKind::MultipleCandidates:
            return "MULTIPLE_CANDIDATES";
        case OutcomeKind::StateTimeout:
            return "STATE_TIMEOUT";
        case OutcomeKind::InvalidFormat:
            return "INVALID_STATE_FORMAT";
        case OutcomeKind::InvalidRequest:
            return "INVALID_REQUEST";
    }
    return "INVALID_REQUEST";
}

int http_status(OutcomeKind kind) {
    switch (kind) {
        case OutcomeKind::Found:
            return 200;
        case OutcomeKind::NotFound:
            return 404;
        case OutcomeKind::MultipleCandidates:
            return 409;
        case OutcomeKind::StateTimeout:
            return 504;
        case OutcomeKind::InvalidFormat:
        case OutcomeKind::InvalidRequest:
            return 422;
    }
    return 422;
}

bool Dataset::known_state(const std::string& state) { return format_for(state) != nullptr; }

bool Dataset::slow_state(const std::string& state) { return state == "LA" || state == "MS"; }

std::string Dataset::normalize_name(const std::string& name) {
    std::string cleaned;
    int depth = 0;  // parenthesized parts ("(2)") are not part of the name
    for (unsigned char c : name) {
        if (c == '(') ++depth;
        if (c == ')' && depth > 0) {
            --depth;
            continue;
        }
        if (depth > 0) continue;
        if (std::isalnum(c))
            cleaned.push_back(static_cast<char>(std::tolower(c)));
        else if (std::isspace(c) && !cleaned.empty() && cleaned.back() != ' ')
            cleaned.push_back(' ');
    }
    while (!cleaned.empty() && cleaned.back() == ' ') cleaned.pop_back();
    static const std::array<const char*, 9> suffixes = {" llc", " inc", " corp", " co", " ltd",
                                                        " incorporated", " corporation",
                                                        " company", " limited"};
    bool stripped = true;
    while (stripped) {
        stripped = false;
        for (const char* s : suffixes) {
            const std::string suf(s);
            if (cleaned.size() > suf.size() &&
                cleaned.compare(cleaned.size() - suf.size(), suf.size(), suf) == 0) {
                cleaned.erase(cleaned.size() - suf.size());
                stripped = true;
            }
        }
    }
    return cleaned;
}

json Dataset::generate(const std::string& state, const std::string& license,
                       std::uint64_t h) const {
    std::uint64_t s = h;
    const Trade& trade = kTrades[mix(s) % kTrades.size()];
    const Trade& second = kTrades[mix(s) % kTrades.size()];

    // Status mix: mostly ACTIVE, with every other status represented.
    const std::uint64_t sr = mix(s) % 100;
    const char* status = sr < 72   ? "ACTIVE"
                         : sr < 82 ? "EXPIRED"
                         : sr < 87 ? "SUSPENDED"
                         : sr < 90 ? "REVOKED"
                         : sr < 93 ? "CANCELLED"
                         : sr < 96 ? "INACTIVE"
                                   : "PENDING";

    // Expiration relative to today: past, within 30 days, within 90, later.
    std::int64_t exp_offset;
    const std::uint64_t er = mix(s) % 100;
    if (std::string(status) == "EXPIRED" || er < 4)
        exp_offset = -1 - static_cast<std::int64_t>(mix(s) % 400);
    else if (er < 14)
        exp_offset = static_cast<std::int64_t>(mix(s) % 30);
    else if (er < 26)
        exp_offset = 30 + static_cast<std::int64_t>(mix(s) % 60);
    else
        exp_offset = 91 + static_cast<std::int64_t>(mix(s) % 900);
    const std::int64_t issue = today_ - 365 - static_cast<std::int64_t>(mix(s) % (25 * 365));

    json actions = json::array();
    if (mix(s) % 100 < 12 || std::string(status) == "SUSPENDED" ||
        std::string(status) == "REVOKED") {
        const int n = 1 + static_cast<int>(mix(s) % 3);
        for (int i = 0; i < n; ++i) {
            actions.push_back({{"date", civil_from_days(today_ - 30 - (mix(s) % 1500))},
                               {"type", pick(s, kActionTypes)},
                               {"description", "Board action recorded against the license"}});
        }
    }

    json bond = nullptr;
    if (mix(s) % 100 >= 15) bond = 1000000 + 250000 * static_cast<std::int64_t>(mix(s) % 17);

    const std::string business = std::string(pick(s, kNameWords)) + " " + trade.name + " " +
                                 pick(s, kSuffixes);
    char zip[8];
    std::snprintf(zip, sizeof zip, "%05u", static_cast<unsigned>(mix(s) % 99999) + 1);
    json address = {{"street", std::to_string(100 + mix(s) % 9800) + " " + pick(s, kStreets)},
                    {"city", pick(s, kCities)},
                    {"state", state},
                    {"zip", zip}};

    json classes = json::array({trade.code});
    if (second.code != trade.code && mix(s) % 3 == 0) classes.push_back(second.code);

    return {{"license_number", license},
            {"state", state},
            {"license_type", trade.code},
            {"classification", trade.name},
            {"classifications", classes},
            {"status", status},
            {"issue_date", civil_from_days(issue)},
            {"expiration_date", civil_from_days(today_ + exp_offset)},
            {"bond_amount", bond},
            {"disciplinary_actions", actions},
            {"business_name", business},
            {"address", address},
            {"insurance_required", mix(s) % 2 == 0}};
}

Outcome Dataset::by_license(const std::string& state, const std::string& license) const {
    Outcome out;
    out.lookup_key = state + ":" + license;
    if (rejected(state, license.empty(), out)) return out;
    const Format* f = format_for(state);

    json patch;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = overrides_.find(out.lookup_key);
        if (it != overrides_.end()) patch = it->second;
    }
    const std::string forced = patch.is_object() ? patch.value("outcome", "") : "";

    const bool fixture = std::any_of(kFixtures.begin(), kFixtures.end(), [&](const Fixture& x) {
        return state == x.state && license == x.license;
    });
    if (forced == "INVALID_STATE_FORMAT" || (!fixture && forced.empty() && !matches(*f, license))) {
        out.kind = OutcomeKind::InvalidFormat;
        out.detail = "License number '" + license + "' does not match the " + state +
                     " board's format.";
        return out;
    }

    const std::uint64_t h = fnv1a(out.lookup_key);
    out.slow_board = slow_state(state);
    if (forced == "NOT_FOUND" || (forced.empty() && !fixture && h % 100 < 7)) {
        out.kind = OutcomeKind::NotFound;
        out.detail = "No license " + license + " on the " + state + " board.";
        return out;
    }
    if (forced == "STATE_TIMEOUT" || (forced.empty() && out.slow_board && (h >> 8) % 4 == 0)) {
        out.kind = OutcomeKind::StateTimeout;
        out.detail = "The " + state + " licensing board did not respond in time.";
        return out;
    }

    out.kind = OutcomeKind::Found;
    out.record = generate(state, license, h);
    for (const auto& x : kFixtures) {
        if (state == x.state && license == x.license) {
            out.record["business_name"] = x.business_name;
            if (license == std::string("1052183")) {
                out.record["status"] = "ACTIVE";
                out.record["license_type"] = "C-10";
                out.record["classification"] = "Electrical";
                out.record["classifications"] = {"C-10", "C-7"};
                out.record["expiration_date"] = civil_from_days(today_ + 400);
                out.record["disciplinary_actions"] = json::array();
                out.record["bond_amount"] = 2500000;
            }
        }
    }
    if (patch.is_object()) {
        for (auto& [k, v] : patch.items())
            if (k != "outcome") out.record[k] = v;
    }
    return out;
}

Outcome Dataset::by_name(const std::string& state, const std::string& name) const {
    Outcome out;
    const std::string normalized = normalize_name(name);
    out.lookup_key = state + ":name:" + normalized;
    if (rejected(state, normalized.empty(), out)) return out;
    std::vector<const Fixture*> hits;
    for (const auto& x : kFixtures)
        if (state == x.state && normalize_name(x.business_name) == normalized) hits.push_back(&x);
    if (hits.empty()) {
        out.kind = OutcomeKind::NotFound;
        out.detail = "No license found for this name in " + state + ".";
        return out;
    }
    if (hits.size() > 1) {
        out.kind = OutcomeKind::MultipleCandidates;
        out.detail = std::to_string(hits.size()) + " licenses found for this name in " + state +
                     ". Provide license_number.";
        out.candidates = json::array();
        for (const Fixture* x : hits)
            out.candidates.push_back(
                {{"license_number", x->license}, {"business_name", x->business_name}});
        return out;
    }
    Outcome found = by_license(state, hits.front()->license);
    found.lookup_key = out.lookup_key;
    return found;
}

void Dataset::set_override(const std::string& state, const std::string& license,
                           const json& patch) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = overrides_[state + ":" + license];
    if (!slot.is_object()) slot = json::object();
    for (auto& [k, v] : patch.items()) slot[k] = v;
}

void Dataset::clear_overrides() {
    std::lock_guard<std::mutex> lock(mu_);
    overrides_.clear();
}

json present_single(const json& record) {
    json out = record;
    const std::string key = record.value("license_number", "") + record.value("state", "");
    const std::uint64_t v = fnv1a(key) >> 17;
    const std::string status = record.value("status", "");
    out.erase("status");
    switch (v % 4) {
        case 0:
            out["status"] = status;
            break;
        case 1:
            out["status"] = title_case(status);
            break;
        case 2:
            out["license_status"] = status;
            break;
        default: {
            std::string lower = status;
            for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            out["license_status"] = lower;
        }
    }
    switch ((v >> 3) % 3) {
        case 0:
            out.erase("classification");
            break;
        case 1:
            out.erase("classifications");
            break;
        default:
            break;
    }
    out["data_source"] = "state_board";
    return out;
}

json present_batch_item(const json& id, const json& record) {
    json out = {{"id", id}, {"status", "success"}};
    for (auto& [k, v] : record.items()) {
        if (k == "status")
            out["license_status"] = title_case(v.get<std::string>());
        else
            out[k] = v;
    }
    return out;
}

}  // namespace cvsim
