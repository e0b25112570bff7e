#include "core/redact.h"

#include <cstring>

namespace cv::core {

std::size_t redact(std::string& text, const std::string& secret) {
    if (secret.size() < kMinRedactedLength) return 0;
    std::size_t pos = text.find(secret);
    if (pos == std::string::npos) return 0;
    const std::size_t replacement = std::strlen(kRedacted);
    std::size_t count = 0;
    while (pos != std::string::npos) {
        text.replace(pos, secret.size(), kRedacted);
        ++count;
        pos = text.find(secret, pos + replacement);
    }
    return count;
}

}  // namespace cv::core
