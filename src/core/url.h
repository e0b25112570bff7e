#pragma once
#include "core/no_postgres.h"

#include <string>

namespace cv::core {

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(const std::string& s);

// base + "/verify?state=..&license_number=.." (or name=..).
std::string single_lookup_url(const std::string& base, const std::string& state,
                              const std::string& license_number, const std::string& name);

// base + "/verify/batch".
std::string batch_url(const std::string& base);

// The host of a URL, for messages: no scheme, credentials, path or query.
// "https://user:pw@api.example.com:8443/v1?x" -> "api.example.com:8443".
std::string url_host(const std::string& url);

}  // namespace cv::core
