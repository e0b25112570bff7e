#pragma once
#include "core/no_postgres.h"

#include <string>

namespace cv::core {

inline constexpr const char* kExtensionVersion = "0.4.0";

// "contractor_verify 0.4.0 (libcurl/7.88.1 OpenSSL/3.0.x ...)"
std::string version_string();

// The User-Agent sent on every call.
std::string user_agent();

}  // namespace cv::core
