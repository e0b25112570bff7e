#include "core/byte_codec.h"

#include "core/error.h"

namespace cv::core {

void ByteWriter::str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(s.data(), s.size());
}

void ByteWriter::opt_str(const std::optional<std::string>& s) {
    boolean(s.has_value());
    if (s) str(*s);
}

void ByteWriter::opt_i64(const std::optional<std::int64_t>& v) {
    boolean(v.has_value());
    if (v) i64(*v);
}

std::size_t ByteWriter::placeholder_u32() {
    const std::size_t at = out_.size();
    u32(0);
    return at;
}

void ByteReader::garbled(const char* what) {
    throw Error(ErrorKind::Internal, what);
}

const char* ByteReader::take(std::size_t n) {
    if (n > remaining()) garbled();
    const char* at = p_;
    p_ += n;
    return at;
}

std::uint8_t ByteReader::u8() { return static_cast<std::uint8_t>(*take(1)); }
std::uint32_t ByteReader::u32() { return fixed<std::uint32_t>(); }
std::int32_t ByteReader::i32() { return fixed<std::int32_t>(); }
std::int64_t ByteReader::i64() { return fixed<std::int64_t>(); }

bool ByteReader::boolean() {
    const std::uint8_t v = u8();
    if (v > 1) garbled("a binary message is garbled (a flag is neither 0 nor 1)");
    return v == 1;
}

std::string_view ByteReader::str_view() {
    const std::uint32_t n = u32();
    return {take(n), n};
}

std::string ByteReader::str() { return std::string(str_view()); }

std::optional<std::string> ByteReader::opt_str() {
    if (!boolean()) return std::nullopt;
    return str();
}

std::optional<std::int64_t> ByteReader::opt_i64() {
    if (!boolean()) return std::nullopt;
    return i64();
}

}  // namespace cv::core
