// A set of 64-bit key hashes (core/key_hash) in one flat table with open
// addressing. The slot of a key comes from the key mixed with a seed drawn
// when the set is made, so keys an outsider chose (license numbers in a
// roster, whose FNV hashes can be made to share their low bits) still spread
// over the table: no long runs of probes, whatever the keys.
#pragma once
#include "core/no_postgres.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cv::core {

class KeySet {
public:
    KeySet();

    void insert(std::uint64_t key);  // key != 0
    bool contains(std::uint64_t key) const;
    std::size_t size() const { return count_; }
    // The most slots any insert has looked at (for tests).
    std::size_t longest_probe() const { return longest_probe_; }

private:
    std::size_t slot_of(std::uint64_t key) const;

    std::uint64_t seed_;
    std::vector<std::uint64_t> slots_;  // 0: free
    std::size_t count_ = 0;
    std::size_t longest_probe_ = 0;
};

}  // namespace cv::core
