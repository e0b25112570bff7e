#pragma once
#include "core/no_postgres.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cv::core {

// Where an option may be written. Secrets live only in a USER MAPPING, as in
// postgres_fdw.
enum class OptionContext { Server, UserMapping };

enum class OptionType { Url, Integer, Duration, Secret };

struct OptionSpec {
    const char* name;
    OptionContext context;
    OptionType type;
    const char* default_value;  // nullptr: required / no default
    std::int64_t min;           // integers: value range; durations: milliseconds
    std::int64_t max;
    const char* description;
};

// The one option table. The FDW validator, the settings loader and the README
// all describe this list.
const std::vector<OptionSpec>& option_specs();

// Comma-separated names of the options valid in a context, for error hints.
std::string valid_option_names(OptionContext context);

// Throws Error(InvalidOption) with a hint when the name is unknown, is used
// in the wrong context, or its value has the wrong type or is out of range.
void validate_option(OptionContext context, const std::string& name, const std::string& value);

// How often a license is re-verified (the batch guide's schedule).
struct ReverifyPolicy {
    std::chrono::milliseconds within_30d{};  // expires within 30 days
    std::chrono::milliseconds within_90d{};  // expires within 90 days
    std::chrono::milliseconds not_active{};  // a status other than ACTIVE
    std::chrono::milliseconds not_found{};   // the API did not find it
    std::chrono::milliseconds otherwise{};
};

// The server options, typed, with defaults applied.
struct ServerSettings {
    std::string url;
    std::chrono::milliseconds timeout{};
    std::chrono::milliseconds connect_timeout{};
    int max_retries = 0;
    std::chrono::milliseconds retry_base{};
    std::chrono::milliseconds retry_max{};
    std::chrono::milliseconds max_retry_after{};
    std::chrono::milliseconds cache_ttl{};
    std::chrono::milliseconds cache_ttl_flagged{};
    std::chrono::milliseconds cache_ttl_not_found{};
    int batch_size = 0;
    int calls_per_minute = 0;         // batch calls per rate_window
    int single_calls_per_minute = 0;  // single lookups per rate_window
    std::chrono::milliseconds rate_window{};
    std::chrono::milliseconds rate_margin{};
    int max_concurrent_calls = 0;
    std::int64_t monthly_lookup_quota = 0;  // 0: no cap
    std::int64_t max_response_bytes = 0;
    ReverifyPolicy reverify;

    // Validates every given option (context Server) and fills in defaults.
    static ServerSettings from_options(const std::map<std::string, std::string>& options);
};

}  // namespace cv::core
