#include "core/options.h"

#include "core/duration.h"
#include "core/error.h"
#include "core/url.h"

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace cv::core {

namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

const char* context_name(OptionContext c) {
    return c == OptionContext::Server ? "SERVER" : "USER MAPPING";
}

const OptionSpec* find_spec(const std::string& name) {
    for (const auto& spec : option_specs())
        if (name == spec.name) return &spec;
    return nullptr;
}

bool parse_int(const std::string& text, std::int64_t& out) {
    if (text.empty()) return false;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || end == text.c_str() || *end != '\0') return false;
    out = v;
    return true;
}

std::string range_hint(const OptionSpec& spec) {
    if (spec.type == OptionType::Duration)
        return "Use a duration between " + format_duration(std::chrono::milliseconds(spec.min)) +
               " and " + format_duration(std::chrono::milliseconds(spec.max)) +
               ", such as '90s', '30min' or '4h' (a bare number is seconds).";
    return "Use an integer between " + std::to_string(spec.min) + " and " +
           std::to_string(spec.max) + ".";
}

// Parses a value already known to be valid for the spec.
std::int64_t typed_value(const OptionSpec& spec, const std::string& value) {
    if (spec.type == OptionType::Duration) return parse_duration(value)->count();
    std::int64_t v = 0;
    parse_int(value, v);
    return v;
}

}  // namespace

const std::vector<OptionSpec>& option_specs() {
    static const std::vector<OptionSpec> specs = {
        {"url", OptionContext::Server, OptionType::Url, "https://api.contractorverify.io/v1", 0, 0,
         "base URL of the ContractorVerify API"},
        {"timeout_ms", OptionContext::Server, OptionType::Integer, "30000", 100, 600000,
         "limit on one HTTP call, in milliseconds"},
        {"connect_timeout_ms", OptionContext::Server, OptionType::Integer, "10000", 100, 120000,
         "limit on establishing a connection, in milliseconds"},
        {"max_retries", OptionContext::Server, OptionType::Integer, "3", 0, 10,
         "retries after a network error, 5xx or 429, before giving up"},
        {"retry_base", OptionContext::Server, OptionType::Duration, "1s", 1, 10 * kMinute,
         "first backoff delay; doubles on each retry, with jitter"},
        {"retry_max", OptionContext::Server, OptionType::Duration, "60s", 1, 60 * kMinute,
         "largest backoff delay"},
        {"max_retry_after", OptionContext::Server, OptionType::Duration, "120s", 1, 60 * kMinute,
         "longest Retry-After honoured before the call fails"},
        {"cache_ttl", OptionContext::Server, OptionType::Duration, "24h", 0, 365 * kDay,
         "freshness of an ACTIVE record with no disciplinary actions"},
        {"cache_ttl_flagged", OptionContext::Server, OptionType::Duration, "4h", 0, 365 * kDay,
         "freshness of a record with disciplinary actions or a status other than ACTIVE"},
        {"cache_ttl_not_found", OptionContext::Server, OptionType::Duration, "1h", 0, 365 * kDay,
         "freshness of a NOT_FOUND answer"},
        {"batch_size", OptionContext::Server, OptionType::Integer, "100", 1, 100,
         "records per batch call (the API accepts at most 100)"},
        {"calls_per_minute", OptionContext::Server, OptionType::Integer, "10", 0, 1000,
         "batch calls allowed to start in any rate_window (60s), cluster-wide (0: no limit; "
         "429s still pause every caller)"},
        {"single_calls_per_minute", OptionContext::Server, OptionType::Integer, "60", 0, 1000,
         "single lookups (GET /verify) allowed to start in any rate_window, cluster-wide (0: no "
         "limit; 429s still pause every caller)"},
        {"rate_window", OptionContext::Server, OptionType::Duration, "60s", 1000, 60 * kMinute,
         "the window calls_per_minute counts over (the plan's; 60s)"},
        {"rate_margin", OptionContext::Server, OptionType::Duration, "250ms", 0, kMinute,
         "added to rate_window for network delay between a call's start and its arrival"},
        {"max_concurrent_calls", OptionContext::Server, OptionType::Integer, "4", 1, 64,
         "batch calls in flight at once per statement"},
        {"monthly_lookup_quota", OptionContext::Server, OptionType::Integer, "0", 0,
         std::numeric_limits<std::int64_t>::max(),
         "lookups allowed per calendar month (0: no cap)"},
        {"max_response_bytes", OptionContext::Server, OptionType::Integer, "16777216", 1024,
         1073741824, "largest response body accepted"},
        {"reverify_within_30d", OptionContext::Server, OptionType::Duration, "7d", kMinute, 365 * kDay,
         "re-verification interval of a license that expires within 30 days"},
        {"reverify_within_90d", OptionContext::Server, OptionType::Duration, "14d", kMinute, 365 * kDay,
         "re-verification interval of a license that expires within 90 days"},
        {"reverify_not_active", OptionContext::Server, OptionType::Duration, "7d", kMinute, 365 * kDay,
         "re-verification interval of a license whose status is not ACTIVE, whatever its expiration"},
        {"reverify_not_found", OptionContext::Server, OptionType::Duration, "7d", kMinute, 365 * kDay,
         "re-verification interval of a license the API did not find"},
        {"reverify_default", OptionContext::Server, OptionType::Duration, "30d", kMinute, 365 * kDay,
         "re-verification interval of every other license"},
        {"api_key", OptionContext::UserMapping, OptionType::Secret, nullptr, 0, 0,
         "the API key sent as a bearer token"},
    };
    return specs;
}

std::string valid_option_names(OptionContext context) {
    std::string out;
    for (const auto& spec : option_specs()) {
        if (spec.context != context) continue;
        if (!out.empty()) out += ", ";
        out += spec.name;
    }
    return out;
}

void validate_option(OptionContext context, const std::string& name, const std::string& value) {
    const OptionSpec* spec = find_spec(name);
    if (spec == nullptr || spec->context != context) {
        std::string message = "invalid option \"" + name + "\"";
        std::string hint;
        if (spec != nullptr) {
            message += " for a " + std::string(context_name(context));
            hint = "\"" + name + "\" is accepted only in a " + context_name(spec->context) +
                   ". Valid options here are: " + valid_option_names(context) + ".";
        } else {
            hint = "Valid options in a " + std::string(context_name(context)) +
                   " are: " + valid_option_names(context) + ".";
        }
        throw Error(ErrorKind::InvalidOptionName, message, hint);
    }

    switch (spec->type) {
        case OptionType::Url:
            canonical_api_url(value);  // throws with the hint
            break;
        case OptionType::Secret:
            if (value.empty())
                throw Error(ErrorKind::InvalidOptionValue, "option \"" + name + "\" must not be empty",
                            "Set it to the API key issued for your ContractorVerify account.");
            if (value.find_first_of("\r\n") != std::string::npos)
                throw Error(ErrorKind::InvalidOptionValue,
                            "option \"" + name + "\" must not contain line breaks");
            break;
        case OptionType::Integer: {
            std::int64_t v = 0;
            if (!parse_int(value, v) || v < spec->min || v > spec->max)
                throw Error(ErrorKind::InvalidOptionValue,
                            "invalid value for option \"" + name + "\": \"" + value + "\"",
                            range_hint(*spec));
            break;
        }
        case OptionType::Duration: {
            auto d = parse_duration(value);
            if (!d || d->count() < spec->min || d->count() > spec->max)
                throw Error(ErrorKind::InvalidOptionValue,
                            "invalid value for option \"" + name + "\": \"" + value + "\"",
                            range_hint(*spec));
            break;
        }
    }
}

ServerSettings ServerSettings::from_options(const std::map<std::string, std::string>& options) {
    for (const auto& [name, value] : options) validate_option(OptionContext::Server, name, value);

    auto get = [&](const char* name) -> std::string {
        auto it = options.find(name);
        if (it != options.end()) return it->second;
        return find_spec(name)->default_value;
    };
    auto number = [&](const char* name) { return typed_value(*find_spec(name), get(name)); };
    auto duration = [&](const char* name) { return std::chrono::milliseconds(number(name)); };

    ServerSettings s;
    s.url = canonical_api_url(get("url"));
    s.timeout = std::chrono::milliseconds(number("timeout_ms"));
    s.connect_timeout = std::chrono::milliseconds(number("connect_timeout_ms"));
    s.max_retries = static_cast<int>(number("max_retries"));
    s.retry_base = duration("retry_base");
    s.retry_max = duration("retry_max");
    s.max_retry_after = duration("max_retry_after");
    s.cache_ttl = duration("cache_ttl");
    s.cache_ttl_flagged = duration("cache_ttl_flagged");
    s.cache_ttl_not_found = duration("cache_ttl_not_found");
    s.batch_size = static_cast<int>(number("batch_size"));
    s.calls_per_minute = static_cast<int>(number("calls_per_minute"));
    s.single_calls_per_minute = static_cast<int>(number("single_calls_per_minute"));
    s.rate_window = duration("rate_window");
    s.rate_margin = duration("rate_margin");
    s.max_concurrent_calls = static_cast<int>(number("max_concurrent_calls"));
    s.monthly_lookup_quota = number("monthly_lookup_quota");
    s.max_response_bytes = number("max_response_bytes");
    s.reverify.within_30d = duration("reverify_within_30d");
    s.reverify.within_90d = duration("reverify_within_90d");
    s.reverify.not_active = duration("reverify_not_active");
    s.reverify.not_found = duration("reverify_not_found");
    s.reverify.otherwise = duration("reverify_default");
    return s;
}

}  // namespace cv::core
