#include "core/json_tape.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace cv::core {

class JsonTape::Reader {
public:
    Reader(std::string_view text, JsonTape& tape) : p_(text.data()), end_(text.data() + text.size()), t_(tape) {}

    bool document() {
        skip_space();
        if (!value(0)) return false;
        skip_space();
        return p_ == end_;
    }

private:
    const char* p_;
    const char* const end_;
    JsonTape& t_;

    void skip_space() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    std::uint32_t add(Kind kind) {
        t_.nodes_.push_back(Node{kind, 0, 0, 0});
        return static_cast<std::uint32_t>(t_.nodes_.size() - 1);
    }
    void close(std::uint32_t n) { t_.nodes_[n].end = static_cast<std::uint32_t>(t_.nodes_.size()); }

    bool literal(const char* word, std::size_t len, Kind kind) {
        if (static_cast<std::size_t>(end_ - p_) < len || std::memcmp(p_, word, len) != 0) return false;
        p_ += len;
        close(add(kind));
        return true;
    }

    bool value(int depth) {
        if (p_ == end_) return false;
        switch (*p_) {
            case '{': return container(depth + 1, Kind::Object);
            case '[': return container(depth + 1, Kind::Array);
            case '"': return string_node(false);
            case 't': return literal("true", 4, Kind::True);
            case 'f': return literal("false", 5, Kind::False);
            case 'n': return literal("null", 4, Kind::Null);
            default: return number();
        }
    }

    bool string_node(bool key) {
        const std::uint32_t n = add(Kind::String);
        if (!string(n, key)) return false;
        close(n);
        return true;
    }

    // An object's members (a key, a colon, a value) or an array's elements,
    // separated by commas, up to the closing bracket.
    bool container(int depth, Kind kind) {
        if (depth > kMaxDepth) return false;
        const bool object = kind == Kind::Object;
        const char closing = object ? '}' : ']';
        const std::uint32_t n = add(kind);
        ++p_;
        skip_space();
        std::uint32_t count = 0;
        if (p_ < end_ && *p_ == closing) {
            ++p_;
        } else {
            for (;;) {
                if (object) {
                    if (p_ == end_ || *p_ != '"' || !string_node(true)) return false;
                    skip_space();
                    if (p_ == end_ || *p_ != ':') return false;
                    ++p_;
                    skip_space();
                }
                if (!value(depth)) return false;
                ++count;
                skip_space();
                if (p_ == end_) return false;
                if (*p_ == closing) {
                    ++p_;
                    break;
                }
                if (*p_ != ',') return false;
                ++p_;
                skip_space();
            }
        }
        t_.nodes_[n].a = count;
        close(n);
        return true;
    }

    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    bool code_unit(unsigned& out) {
        if (end_ - p_ < 4) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex(p_[i]);
            if (h < 0) return false;
            out = out << 4 | static_cast<unsigned>(h);
        }
        p_ += 4;
        return true;
    }
    void put_utf8(unsigned cp) {
        std::string& s = t_.text_;
        if (cp == 0) {
            s += "\xEF\xBF\xBD";  // NUL: U+FFFD, as the general path scrubs it
        } else if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else if (cp < 0x800) {
            s += static_cast<char>(0xC0 | cp >> 6);
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s += static_cast<char>(0xE0 | cp >> 12);
            s += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            s += static_cast<char>(0xF0 | cp >> 18);
            s += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
            s += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    // The length of the valid UTF-8 sequence starting at p_ (a lead byte of
    // 0x80 or more), or 0 (overlong forms, surrogates, beyond U+10FFFF).
    std::size_t utf8_sequence() const {
        const auto* u = reinterpret_cast<const unsigned char*>(p_);
        const std::size_t left = static_cast<std::size_t>(end_ - p_);
        auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
            return i < left && u[i] >= lo && u[i] <= hi;
        };
        const unsigned c = u[0];
        if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
        if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
        if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
        if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
        if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
        if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
        if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
        return 0;
    }

    // A key holding a NUL character is declined: the general path's scrub
    // resolves a clash of "a\u0000" with "a\uFFFD" in its own key order.
    bool string(std::uint32_t n, bool key) {
        ++p_;  // the opening quote
        std::string& s = t_.text_;
        const std::size_t start = s.size();
        for (;;) {
            // A run of plain ASCII is copied at once.
            const char* run = p_;
            while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20 &&
                   static_cast<unsigned char>(*p_) < 0x80)
                ++p_;
            s.append(run, static_cast<std::size_t>(p_ - run));
            if (p_ == end_) return false;
            const unsigned char c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                break;
            }
            if (c < 0x20) return false;
            if (c >= 0x80) {
                const std::size_t len = utf8_sequence();
                if (len == 0) return false;
                s.append(p_, len);
                p_ += len;
                continue;
            }
            // A backslash.
            ++p_;
            if (p_ == end_) return false;
            const char e = *p_++;
            switch (e) {
                case '"': s += '"'; break;
                case '\\': s += '\\'; break;
                case '/': s += '/'; break;
                case 'b': s += '\b'; break;
                case 'f': s += '\f'; break;
                case 'n': s += '\n'; break;
                case 'r': s += '\r'; break;
                case 't': s += '\t'; break;
                case 'u': {
                    unsigned cp = 0;
                    if (!code_unit(cp) || (cp == 0 && key)) return false;
                    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned low = 0;
                        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
                        p_ += 2;
                        if (!code_unit(low) || low < 0xDC00 || low > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    put_utf8(cp);
                    break;
                }
                default: return false;
            }
        }
        if (s.size() - start > std::numeric_limits<std::uint32_t>::max()) return false;
        t_.nodes_[n].a = static_cast<std::uint32_t>(s.size() - start);
        t_.nodes_[n].b = static_cast<std::uint32_t>(start);
        return true;
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    bool number() {
        const char* start = p_;
        const bool negative = p_ < end_ && *p_ == '-';
        if (negative) ++p_;
        if (p_ == end_ || !digit(*p_)) return false;
        if (*p_ == '0') {
            ++p_;
        } else {
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        bool integral = true;
        if (p_ < end_ && *p_ == '.') {
            integral = false;
            ++p_;
            if (p_ == end_ || !digit(*p_)) return false;
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            integral = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ == end_ || !digit(*p_)) return false;
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        // strtoull and strtod need a terminated copy.
        char buf[64];
        const std::size_t len = static_cast<std::size_t>(p_ - start);
        std::string long_text;
        const char* text = buf;
        if (len < sizeof buf) {
            std::memcpy(buf, start, len);
            buf[len] = '\0';
        } else {
            long_text.assign(start, len);
            text = long_text.c_str();
        }
        std::uint64_t bits = 0;
        Kind kind = Kind::Float;
        if (integral) {
            errno = 0;
            char* stop = nullptr;
            if (negative) {
                const long long v = std::strtoll(text, &stop, 10);
                if (errno == 0 && stop == text + len) {
                    kind = Kind::Integer;
                    bits = static_cast<std::uint64_t>(v);
                }
            } else {
                const unsigned long long v = std::strtoull(text, &stop, 10);
                if (errno == 0 && stop == text + len) {
                    kind = Kind::Unsigned;
                    bits = v;
                }
            }
        }
        if (kind == Kind::Float) {
            char* stop = nullptr;
            const double d = std::strtod(text, &stop);
            // The general path refuses a number beyond a double's range too.
            if (stop != text + len || !std::isfinite(d)) return false;
            std::memcpy(&bits, &d, sizeof d);
        }
        const std::uint32_t n = add(kind);
        t_.nodes_[n].a = static_cast<std::uint32_t>(bits);
        t_.nodes_[n].b = static_cast<std::uint32_t>(bits >> 32);
        close(n);
        return true;
    }
};

std::optional<JsonTape> JsonTape::read(std::string_view text) {
    if (text.size() >= std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    JsonTape tape;
    // About one value per 12 bytes of a typical response, text a bit less than its size.
    tape.nodes_.reserve(text.size() / 12 + 4);
    tape.text_.reserve(text.size());
    if (!Reader(text, tape).document()) return std::nullopt;
    return tape;
}

double JsonTape::floating(std::uint32_t n) const {
    const std::uint64_t bits = number_bits(n);
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

std::uint32_t JsonTape::find(std::uint32_t n, std::string_view key) const {
    if (kind(n) != Kind::Object) return kNone;
    std::uint32_t found = kNone;
    for_each_member(n, [&](std::string_view k, std::uint32_t v) {
        if (k == key) found = v;
    });
    return found;
}

nlohmann::json JsonTape::to_json(std::uint32_t n) const {
    switch (kind(n)) {
        case Kind::Null: return nullptr;
        case Kind::False: return false;
        case Kind::True: return true;
        case Kind::Integer: return integer(n);
        case Kind::Unsigned: return unsigned_integer(n);
        case Kind::Float: return floating(n);
        case Kind::String: return std::string(string(n));
        case Kind::Array: {
            nlohmann::json a = nlohmann::json::array();
            for_each_element(n, [&](std::uint32_t e) { a.push_back(to_json(e)); });
            return a;
        }
        case Kind::Object: {
            nlohmann::json o = nlohmann::json::object();
            for_each_member(n, [&](std::string_view k, std::uint32_t v) { o[std::string(k)] = to_json(v); });
            return o;
        }
    }
    return nullptr;
}

}  // namespace cv::core
