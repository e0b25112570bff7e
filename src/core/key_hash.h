// A 64-bit FNV-1a hash of a sequence of strings, for keys of shared-memory
// hash tables. Each part ends with a byte that valid UTF-8 never contains,
// so ("ab", "c") and ("a", "bc") hash apart. Never 0 (0 marks a free slot).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

namespace cv::core {

std::uint64_t key_hash(std::initializer_list<const std::string*> parts, std::uint64_t salt = 0);

}  // namespace cv::core
