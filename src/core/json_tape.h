// A JSON document read in one pass into a flat array of values (a "tape"):
// no allocation per value, strings decoded into one buffer. Used where every
// response of a batch is read (core/batch_protocol.cpp): each result's fields
// come from the tape, and the pg zone builds the stored jsonb from it, with no
// tree of objects built and torn down per record.
//
// The reader is strict and small: it accepts only what the JSON grammar
// (RFC 8259) allows, in valid UTF-8, nested at most kMaxDepth deep, and
// refuses anything else (the caller then reads the text with the general
// JSON library, which decides). What it accepts it reads as that library
// does: the last of repeated keys wins, NUL characters in strings become
// U+FFFD (as core/api_response.cpp's scrub does; a key holding one is
// declined), integers outside the 64-bit range become floating point.
#pragma once
#include "core/no_postgres.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cv::core {

class JsonTape {
public:
    enum class Kind : std::uint8_t { Null, False, True, Integer, Unsigned, Float, String, Array, Object };
    static constexpr std::uint32_t kNone = 0xffffffffu;
    static constexpr int kMaxDepth = 64;

    // nullopt when the text is not JSON this reader accepts.
    static std::optional<JsonTape> read(std::string_view text);

    // The document's outermost value is node 0.
    Kind kind(std::uint32_t n) const { return nodes_[n].kind; }
    // An object's member count or an array's element count.
    std::uint32_t size(std::uint32_t n) const { return nodes_[n].a; }
    // The node after n's value (and, for containers, after all they hold).
    std::uint32_t next(std::uint32_t n) const { return nodes_[n].end; }
    // A container's first element or first member's key; kNone when empty.
    std::uint32_t first(std::uint32_t n) const { return size(n) == 0 ? kNone : n + 1; }

    std::string_view string(std::uint32_t n) const {
        return {text_.data() + nodes_[n].b, nodes_[n].a};
    }
    std::int64_t integer(std::uint32_t n) const { return static_cast<std::int64_t>(number_bits(n)); }
    std::uint64_t unsigned_integer(std::uint32_t n) const { return number_bits(n); }
    double floating(std::uint32_t n) const;

    // The value of an object's member (the last one of that name); kNone if
    // n is not an object or has no such member.
    std::uint32_t find(std::uint32_t n, std::string_view key) const;

    // Calls f(element) for each element of an array.
    template <typename F>
    void for_each_element(std::uint32_t n, F&& f) const {
        for (std::uint32_t e = first(n), i = 0; i < size(n); ++i, e = next(e)) f(e);
    }
    // Calls f(key, value) for each member of an object, in document order.
    template <typename F>
    void for_each_member(std::uint32_t n, F&& f) const {
        for (std::uint32_t k = first(n), i = 0; i < size(n); ++i, k = next(k + 1)) f(string(k), k + 1);
    }

    // The value as the JSON library holds it.
    nlohmann::json to_json(std::uint32_t n) const;

private:
    struct Node {
        Kind kind;
        std::uint32_t a = 0;    // String: length; Array, Object: count; numbers: low 32 bits
        std::uint32_t b = 0;    // String: offset in text_; numbers: high 32 bits
        std::uint32_t end = 0;  // the node after this value
    };
    class Reader;

    std::uint64_t number_bits(std::uint32_t n) const {
        return static_cast<std::uint64_t>(nodes_[n].b) << 32 | nodes_[n].a;
    }

    std::vector<Node> nodes_;
    std::string text_;  // every string's decoded bytes
};

}  // namespace cv::core
