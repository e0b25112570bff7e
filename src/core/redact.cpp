#include "core/redact.h"

#include "core/json_escape.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cv::core {

namespace {

// Every occurrence, as the text has it (a body that is not JSON: a proxy's
// error page, a 5xx's text).
// How long a beginning of the secret (kMinRedactedPrefix characters or
// more, short of the whole) the text ends with; 0: none.
std::size_t trailing_prefix(const std::string& text, const std::string& secret) {
    for (std::size_t len = std::min(secret.size() - 1, text.size()); len >= kMinRedactedPrefix; --len)
        if (text.compare(text.size() - len, len, secret, 0, len) == 0) return len;
    return 0;
}

// A body cut short (a connection reset, a proxy's limit) may end in the
// first characters of the key: that beginning goes too, from
// kMinRedactedPrefix characters on, since an error message quotes the body.
std::size_t redact_raw(std::string& text, const std::string& secret) {
    const std::size_t replacement = std::strlen(kRedacted);
    std::size_t count = 0;
    for (std::size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + replacement)) {
        text.replace(pos, secret.size(), kRedacted);
        ++count;
    }
    if (const std::size_t len = trailing_prefix(text, secret); len > 0) {
        text.replace(text.size() - len, len, kRedacted);
        ++count;
    }
    return count;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::uint32_t hex4(const std::string& text, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) v = v * 16 + static_cast<std::uint32_t>(hex_digit(text[at + k]));
    return v;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Decodes the string whose contents are text[begin, end) into `decoded`;
// with `raw`, also where each decoded byte's escape starts and ends.
void decode(const std::string& text, std::size_t begin, std::size_t end, std::string& decoded,
            std::vector<std::pair<std::size_t, std::size_t>>* raw) {
    decoded.clear();
    if (raw != nullptr) raw->clear();
    std::size_t i = begin;
    while (i < end) {
        const std::size_t from = i;
        const std::size_t before = decoded.size();
        if (text[i] != '\\') {
            decoded += text[i++];
        } else {
            const char e = text[i + 1];
            i += 2;
            if (e == 'u') {
                std::uint32_t cp = hex4(text, i);
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= end && text[i] == '\\' &&
                    text[i + 1] == 'u') {
                    const std::uint32_t low = hex4(text, i + 2);
                    if (low >= 0xDC00 && low < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                }
                append_utf8(decoded, cp);
            } else {
                const char c = json_escaped_character(e);
                decoded += c != 0 ? c : e;  // b f n r t; " \ /
            }
        }
        if (raw != nullptr)
            for (std::size_t k = before; k < decoded.size(); ++k) raw->emplace_back(from, i);
    }
}

// A valid JSON text: the secret is looked for in each string as it reads
// once decoded (an API may escape "/" or any character of the key), and the
// escapes that spell it are replaced whole, so the text stays valid JSON;
// numbers, literals and the structure are never touched. Memory: a string's
// map of escapes is made only when the string holds the secret.
std::size_t redact_json(std::string& text, const std::string& secret) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;  // raw [begin, end)
    std::string decoded;
    std::vector<std::pair<std::size_t, std::size_t>> raw;
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        if (text[i] != '"') {
            ++i;
            continue;
        }
        const std::size_t begin = ++i;
        bool escaped = false;
        while (i < n && text[i] != '"') {
            if (text[i] == '\\') {
                escaped = true;
                ++i;
            }
            ++i;
        }
        const std::size_t end = i++;  // past the closing quote
        if (!escaped) {
            // Written as it reads.
            const std::string_view contents(text.data() + begin, end - begin);
            for (std::size_t pos = contents.find(secret); pos != std::string_view::npos;
                 pos = contents.find(secret, pos + secret.size()))
                spans.emplace_back(begin + pos, begin + pos + secret.size());
            continue;
        }
        decode(text, begin, end, decoded, nullptr);
        if (decoded.find(secret) == std::string::npos) continue;
        decode(text, begin, end, decoded, &raw);
        for (std::size_t pos = decoded.find(secret); pos != std::string::npos;
             pos = decoded.find(secret, pos + secret.size()))
            spans.emplace_back(raw[pos].first, raw[pos + secret.size() - 1].second);
    }
    if (spans.empty()) return 0;
    std::string out;
    out.reserve(text.size());
    std::size_t from = 0;
    for (const auto& [b, e] : spans) {
        out.append(text, from, b - from);
        out += kRedacted;
        from = e;
    }
    out.append(text, from, std::string::npos);
    text.swap(out);
    return spans.size();
}

}  // namespace

std::size_t redact(std::string& text, const std::string& secret) {
    if (secret.size() < kMinRedactedLength) return 0;
    // Without a backslash every string reads as it is written: nothing to
    // find unless the secret, or the beginning of it a cut body ends with,
    // is there as it is.
    if (text.find('\\') == std::string::npos && text.find(secret) == std::string::npos &&
        trailing_prefix(text, secret) == 0)
        return 0;
    if (nlohmann::json::accept(text)) return redact_json(text, secret);
    return redact_raw(text, secret);
}

}  // namespace cv::core
