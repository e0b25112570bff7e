#pragma once
#include "core/no_postgres.h"

#include <chrono>
#include <optional>
#include <string>

namespace cv::core {

// Parses "90" (seconds), "500ms", "90s", "30min", "4h", "1d", "4 hours".
// Returns nullopt on anything else, including negative values and overflow.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

// Renders a duration in the largest unit that divides it ("4h", "90s", "250ms").
std::string format_duration(std::chrono::milliseconds d);

}  // namespace cv::core
