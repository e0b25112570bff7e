// JSON's short escapes of control characters (\b \f \n \r \t), shared by what
// writes JSON strings and what reads them.
#pragma once
#include "core/no_postgres.h"

#include <utility>

namespace cv::core {

inline constexpr std::pair<char, char> kJsonShortEscapes[] = {
    {'\b', 'b'}, {'\f', 'f'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'}};

// The letter escaping control character c (n for a newline), or 0 when it has none.
inline char json_escape_letter(char c) {
    for (const auto& [character, letter] : kJsonShortEscapes)
        if (character == c) return letter;
    return 0;
}

// The control character a short escape's letter stands for, or 0.
inline char json_escaped_character(char letter) {
    for (const auto& [character, l] : kJsonShortEscapes)
        if (l == letter) return character;
    return 0;
}

}  // namespace cv::core
