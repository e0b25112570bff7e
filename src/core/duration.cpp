#include "core/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <utility>

namespace cv::core {

namespace {

struct Unit {
    const char* name;
    std::int64_t ms;
};

constexpr Unit kUnits[] = {
    {"ms", 1},          {"msec", 1},         {"millisecond", 1},  {"milliseconds", 1},
    {"s", 1000},        {"sec", 1000},       {"secs", 1000},      {"second", 1000},
    {"seconds", 1000},  {"min", 60000},      {"mins", 60000},     {"minute", 60000},
    {"minutes", 60000}, {"h", 3600000},      {"hour", 3600000},   {"hours", 3600000},
    {"d", 86400000},    {"day", 86400000},   {"days", 86400000},
};

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i == n || !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    std::int64_t value = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (value > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return std::nullopt;
        value = value * 10 + (text[i] - '0');
        ++i;
    }
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t unit_end = n;
    while (unit_end > i && std::isspace(static_cast<unsigned char>(text[unit_end - 1]))) --unit_end;
    std::string unit;
    for (std::size_t k = i; k < unit_end; ++k)
        unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[k]))));

    std::int64_t scale = 1000;  // a bare number is seconds
    if (!unit.empty()) {
        bool found = false;
        for (const auto& u : kUnits) {
            if (unit == u.name) {
                scale = u.ms;
                found = true;
                break;
            }
        }
        if (!found) return std::nullopt;
    }
    if (value > std::numeric_limits<std::int64_t>::max() / scale) return std::nullopt;
    return std::chrono::milliseconds(value * scale);
}

std::string format_duration(std::chrono::milliseconds d) {
    const std::int64_t ms = d.count();
    const std::pair<std::int64_t, const char*> units[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}};
    for (const auto& [scale, name] : units) {
        if (ms != 0 && ms % scale == 0) return std::to_string(ms / scale) + name;
    }
    return std::to_string(ms) + "ms";
}

}  // namespace cv::core
