#include "core/version.h"

#include <curl/curl.h>

namespace cv::core {

std::string version_string() {
    return std::string("contractor_verify ") + kExtensionVersion + " (" + curl_version() + ")";
}

std::string user_agent() {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    return std::string("contractor_verify/") + kExtensionVersion + " libcurl/" +
           (info && info->version ? info->version : "unknown");
}

}  // namespace cv::core
