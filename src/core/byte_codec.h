// Fixed-width binary fields for messages between processes of one server
// (same machine, same build): written with memcpy, read back with a bounds
// check on every field, so a truncated or garbled message throws instead of
// reading past its end.
#pragma once
#include "core/no_postgres.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace cv::core {

class ByteWriter {
public:
    explicit ByteWriter(std::string& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void i32(std::int32_t v) { raw(&v, sizeof v); }
    void i64(std::int64_t v) { raw(&v, sizeof v); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    // A length, then the bytes.
    void str(std::string_view s);
    void opt_str(const std::optional<std::string>& s);
    void opt_i64(const std::optional<std::int64_t>& v);
    // Bytes as they are (the reader must know how many).
    void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }

    // Reserves room for a u32 written later with patch_u32 (a length known
    // only once what follows is written).
    std::size_t placeholder_u32();
    void patch_u32(std::size_t at, std::uint32_t v) { std::memcpy(&out_[at], &v, sizeof v); }
    std::size_t size() const { return out_.size(); }

private:
    std::string& out_;
};

class ByteReader {
public:
    ByteReader(const char* data, std::size_t size) : p_(data), end_(data + size) {}
    explicit ByteReader(std::string_view s) : ByteReader(s.data(), s.size()) {}

    std::uint8_t u8();
    std::uint32_t u32();
    std::int32_t i32();
    std::int64_t i64();
    bool boolean();  // 0 or 1; anything else is garbled
    std::string str();
    std::string_view str_view();  // points into the message
    std::optional<std::string> opt_str();
    std::optional<std::int64_t> opt_i64();
    // The next n bytes, pointing into the message.
    const char* take(std::size_t n);

    std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
    bool at_end() const { return p_ == end_; }
    // Throws Error(Internal) with `what`.
    [[noreturn]] static void garbled(const char* what = "a binary message is truncated or garbled");

private:
    template <typename T>
    T fixed() {
        T v;
        std::memcpy(&v, take(sizeof v), sizeof v);
        return v;
    }
    const char* p_;
    const char* end_;
};

}  // namespace cv::core
