#include "core/key_set.h"

#include <chrono>
#include <random>

namespace cv::core {

namespace {

std::uint64_t fresh_seed() {
    try {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32) ^ device();
    } catch (...) {
        // No entropy source: the clock still varies from set to set.
        return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
}

// SplitMix64's finaliser: every bit of the input moves about half the bits
// of the output.
std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

}  // namespace

KeySet::KeySet() : seed_(fresh_seed()) {}

std::size_t KeySet::slot_of(std::uint64_t key) const {
    return static_cast<std::size_t>(mix(key ^ seed_)) & (slots_.size() - 1);
}

void KeySet::insert(std::uint64_t key) {
    if ((count_ + 1) * 2 > slots_.size()) {
        std::vector<std::uint64_t> old(slots_.empty() ? 64 : slots_.size() * 2, 0);
        old.swap(slots_);
        count_ = 0;
        for (std::uint64_t k : old)
            if (k != 0) insert(k);
    }
    const std::size_t mask = slots_.size() - 1;
    std::size_t probes = 1;
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask, ++probes) {
        if (slots_[i] == key) break;
        if (slots_[i] == 0) {
            slots_[i] = key;
            ++count_;
            break;
        }
    }
    if (probes > longest_probe_) longest_probe_ = probes;
}

bool KeySet::contains(std::uint64_t key) const {
    if (slots_.empty()) return false;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask) {
        if (slots_[i] == key) return true;
        if (slots_[i] == 0) return false;
    }
}

}  // namespace cv::core
