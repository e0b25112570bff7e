#include "core/key_hash.h"

namespace cv::core {

namespace {

constexpr std::uint64_t kOffsetBasis = 1469598103934665603ULL;
constexpr std::uint64_t kPrime = 1099511628211ULL;
constexpr unsigned char kPartEnd = 0xff;

}  // namespace

std::uint64_t key_hash(std::initializer_list<const std::string*> parts, std::uint64_t salt) {
    std::uint64_t h = kOffsetBasis ^ salt;
    for (const std::string* part : parts) {
        for (unsigned char c : *part) {
            h ^= c;
            h *= kPrime;
        }
        h ^= kPartEnd;
        h *= kPrime;
    }
    return h == 0 ? 1 : h;
}

}  // namespace cv::core
