#include "core/url.h"

#include <cctype>

namespace cv::core {

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

std::string single_lookup_url(const std::string& base, const std::string& state,
                              const std::string& license_number, const std::string& name) {
    std::string url = base + "/verify?state=" + url_encode(state);
    if (!license_number.empty())
        url += "&license_number=" + url_encode(license_number);
    else
        url += "&name=" + url_encode(name);
    return url;
}

std::string batch_url(const std::string& base) { return base + "/verify/batch"; }

std::string url_host(const std::string& url) {
    std::string rest = url;
    const auto scheme = rest.find("://");
    if (scheme != std::string::npos) rest = rest.substr(scheme + 3);
    const auto end = rest.find_first_of("/?#");
    if (end != std::string::npos) rest = rest.substr(0, end);
    const auto at = rest.rfind('@');
    if (at != std::string::npos) rest = rest.substr(at + 1);
    return rest;
}

}  // namespace cv::core
