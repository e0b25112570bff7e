#include "core/url.h"

#include "core/error.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace cv::core {

namespace {

struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlString {
    char* text = nullptr;
    ~CurlString() { curl_free(text); }
};

// One part of a parsed URL; empty when absent.
std::string part(CURLU* u, CURLUPart which, unsigned flags = 0) {
    CurlString s;
    if (curl_url_get(u, which, &s.text, flags) != CURLUE_OK || s.text == nullptr) return {};
    return s.text;
}

UrlPtr parse(const std::string& url) {
    UrlPtr u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return nullptr;
    return u;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

[[noreturn]] void bad_url() {
    throw Error(ErrorKind::InvalidOptionValue, "invalid value for option \"url\"",
                "Use an absolute http:// or https:// URL such as "
                "'https://api.contractorverify.io/v1'.");
}

}  // namespace

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

std::string canonical_api_url(const std::string& url) {
    if (url.find_first_of(" \t\r\n") != std::string::npos) bad_url();
    UrlPtr u = parse(url);
    if (!u) bad_url();
    const std::string scheme = lower(part(u.get(), CURLUPART_SCHEME));
    const std::string host = lower(part(u.get(), CURLUPART_HOST));
    if ((scheme != "http" && scheme != "https") || host.empty()) bad_url();
    std::string port = part(u.get(), CURLUPART_PORT);
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port.clear();
    std::string path = part(u.get(), CURLUPART_PATH);
    while (!path.empty() && path.back() == '/') path.pop_back();
    return scheme + "://" + host + (port.empty() ? "" : ":" + port) + path;
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
    if (UrlPtr u = parse(url)) {
        const std::string host = part(u.get(), CURLUPART_HOST);
        const std::string port = part(u.get(), CURLUPART_PORT);
        if (!host.empty()) return host + (port.empty() ? "" : ":" + port);
    }
    // Not a URL libcurl accepts: strip what can be recognised, never credentials.
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
