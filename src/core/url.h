#pragma once
#include "core/no_postgres.h"

#include <string>

namespace cv::core {

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(const std::string& s);

// The canonical form of an API base URL, parsed by libcurl's URL API: scheme
// and host in lower case, the scheme's default port dropped, no credentials,
// query or fragment, no trailing slash. Two servers reach the same API exactly
// when their canonical URLs are equal, so the cache is keyed by it.
// Throws Error(InvalidOptionValue) for anything but an absolute http(s) URL.
std::string canonical_api_url(const std::string& url);

// base + "/verify?state=..&license_number=.." (or name=..).
std::string single_lookup_url(const std::string& base, const std::string& state,
                              const std::string& license_number, const std::string& name);

// base + "/verify/batch".
std::string batch_url(const std::string& base);

// The host of a URL, for messages: no scheme, credentials, path or query.
// "https://user:pw@api.example.com:8443/v1?x" -> "api.example.com:8443".
std::string url_host(const std::string& url);

}  // namespace cv::core
