#include "core/normalize.h"

#include "core/error.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace cv::core {

namespace {

constexpr std::array<const char*, 51> kStates = {
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA",
    "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS",
    "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY"};

// Raw bytes allowed per character of a length limit before normalizing at all:
// a character is at most 4 bytes and NFKC composes at most a few code points
// into one, so anything beyond this is free text, and refusing it up front
// keeps normalization's time and memory bounded.
constexpr std::size_t kRawBytesPerChar = 64;
// A state code has no length limit of its own (the USPS list decides), but a
// long value is refused before it is normalized, for the same reason.
constexpr std::size_t kMaxRawStateBytes = 256;
constexpr std::size_t kExcerptChars = 40;

constexpr const char* kUtf8Hint =
    "Values are read as UTF-8: use a UTF-8 database, or convert the value first, for "
    "example with convert_from(value, 'LATIN1').";
constexpr const char* kInvisibleHint =
    "Remove invisible characters (control characters, zero-width spaces, byte-order marks, "
    "soft hyphens, direction marks, line breaks) from the value; they are refused rather than "
    "stripped so that what is looked up is exactly what is stored.";

// ICU works with 32-bit lengths.
int32_t length32(const std::string& s) {
    if (s.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max()))
        throw Error(ErrorKind::InvalidParameter, "value is too long to process");
    return static_cast<int32_t>(s.size());
}

// Decodes UTF-8 one code point at a time; an ill-formed sequence comes back
// as a negative code point covering bytes [begin(), pos()).
class Utf8Reader {
  public:
    explicit Utf8Reader(const std::string& s)
        : p_(reinterpret_cast<const uint8_t*>(s.data())), n_(length32(s)) {}
    bool next(UChar32& c) {
        if (pos_ >= n_) return false;
        begin_ = pos_;
        U8_NEXT(p_, pos_, n_, c);
        return true;
    }
    std::size_t begin() const { return static_cast<std::size_t>(begin_); }
    std::size_t pos() const { return static_cast<std::size_t>(pos_); }

  private:
    const uint8_t* p_;
    int32_t n_;
    int32_t begin_ = 0;
    int32_t pos_ = 0;
};

bool is_category(UChar32 c, uint32_t mask) {
    return (U_GET_GC_MASK(c) & mask) != 0;
}

// Cc, Cf, U+2028 (Zl) and U+2029 (Zp): never part of a value a person typed.
bool is_invisible(UChar32 c) {
    return is_category(c, U_GC_CC_MASK | U_GC_CF_MASK | U_GC_ZL_MASK | U_GC_ZP_MASK);
}

// ASCII whitespace keeps trimming as it always did (a trailing tab or newline
// from a pasted cell); Zs adds the no-break and ideographic spaces. U+0085,
// U+2028 and U+2029 are deliberately not here: they are refused instead.
bool is_trimmable(UChar32 c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || is_category(c, U_GC_ZS_MASK);
}

bool is_printable(UChar32 c) {
    if (c == ' ') return true;
    return !is_category(c, U_GC_C_MASK | U_GC_Z_MASK);
}

// Shown in errors: printable, and short. Invisible and non-printable code
// points appear as U+XXXX, bytes of invalid UTF-8 as \xHH.
std::string shown(const std::string& s) {
    std::string out;
    std::size_t count = 0;
    Utf8Reader r(s);
    char buf[16];
    for (UChar32 c; r.next(c);) {
        if (++count > kExcerptChars) {
            out += "...";
            break;
        }
        if (c < 0) {
            for (std::size_t i = r.begin(); i < r.pos(); ++i) {
                std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(s[i]));
                out += buf;
            }
        } else if (!is_printable(c)) {
            std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
            out += buf;
        } else {
            out.append(s, r.begin(), r.pos() - r.begin());
        }
    }
    return out;
}

void require_utf8(const std::string& s, const std::string& what) {
    Utf8Reader r(s);
    for (UChar32 c; r.next(c);) {
        if (c < 0)
            throw Error(ErrorKind::InvalidParameter,
                        what + " \"" + shown(s) + "\" is not valid UTF-8 (byte " +
                            std::to_string(r.begin() + 1) + ")",
                        kUtf8Hint);
    }
}

std::string nfkc(const std::string& s) {
    // ASCII is its own NFKC form: most rosters never reach the normalizer.
    if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) return s;
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCInstance(status);
    std::string out;
    icu::StringByteSink<std::string> sink(&out, length32(s));
    if (U_SUCCESS(status))
        n->normalizeUTF8(0, icu::StringPiece(s.data(), length32(s)), sink, nullptr, status);
    if (U_FAILURE(status))
        throw Error(ErrorKind::Internal,
                    std::string("Unicode normalization failed: ") + u_errorName(status));
    return out;
}

// Full Unicode case folding (locale-independent): "Straße" and "STRASSE" meet.
std::string fold_case(const std::string& s) {
    UErrorCode status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, length32(s));
    icu::CaseMap::utf8Fold(U_FOLD_CASE_DEFAULT, icu::StringPiece(s.data(), length32(s)), sink,
                           nullptr, status);
    if (U_FAILURE(status))
        throw Error(ErrorKind::Internal,
                    std::string("Unicode case folding failed: ") + u_errorName(status));
    return out;
}

// `s` is valid UTF-8.
std::string trim(const std::string& s) {
    std::size_t b = std::string::npos, e = 0;
    Utf8Reader r(s);
    for (UChar32 c; r.next(c);) {
        if (c >= 0 && is_trimmable(c)) continue;
        if (b == std::string::npos) b = r.begin();
        e = r.pos();
    }
    return b == std::string::npos ? std::string() : s.substr(b, e - b);
}

bool is_blank(const std::string& s) {
    Utf8Reader r(s);
    for (UChar32 c; r.next(c);)
        if (c < 0 || !is_trimmable(c)) return false;
    return true;
}

std::size_t char_count(const std::string& s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

const char* invisible_kind(UChar32 c) {
    switch (u_charType(c)) {
        case U_CONTROL_CHAR:
            return "a control character";
        case U_FORMAT_CHAR:
            return "a format character";
        case U_LINE_SEPARATOR:
            return "a line separator";
        default:
            return "a paragraph separator";
    }
}

void refuse_invisible(const std::string& value, const std::string& what) {
    Utf8Reader r(value);
    std::size_t index = 0;
    for (UChar32 c; r.next(c);) {
        ++index;
        if (!is_invisible(c)) continue;
        char code[16];
        std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
        std::string label = code;
        char name[128];
        UErrorCode status = U_ZERO_ERROR;
        const int32_t len = u_charName(c, U_UNICODE_CHAR_NAME, name, sizeof name, &status);
        if (U_SUCCESS(status) && len > 0 && len < static_cast<int32_t>(sizeof name))
            label += " " + std::string(name, static_cast<std::size_t>(len));
        throw Error(ErrorKind::InvalidParameter,
                    what + " \"" + shown(value) + "\" contains " + invisible_kind(c) + " (" +
                        label + ") at character " + std::to_string(index),
                    kInvisibleHint);
    }
}

// What every caller-typed value goes through: valid UTF-8, NFKC, trimmed, and
// free of invisible characters. `max_chars` (0: none) bounds the raw size.
std::string clean_text(const std::string& raw, const std::string& what, std::size_t max_chars) {
    if (max_chars != 0 && raw.size() > max_chars * kRawBytesPerChar)
        throw Error(ErrorKind::InvalidParameter,
                    what + " is too long (" + std::to_string(raw.size()) + " bytes; at most " +
                        std::to_string(max_chars) + " characters)");
    require_utf8(raw, what);
    std::string value = trim(nfkc(raw));
    refuse_invisible(value, what);
    return value;
}

std::string upper_ascii(std::string s) {
    for (auto& c : s)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

std::string trim_ascii(const std::string& s) {
    auto is_space = [](unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0D); };
    auto b = std::find_if_not(s.begin(), s.end(), is_space);
    auto e = std::find_if_not(s.rbegin(), s.rend(), is_space).base();
    return b < e ? std::string(b, e) : std::string();
}

bool is_word_char(UChar32 c) {
    if (c < 0x80) return std::isalnum(static_cast<unsigned char>(c)) != 0;
    // Marks stay with their letter in scripts NFKC does not precompose.
    return is_category(c, U_GC_L_MASK | U_GC_N_MASK | U_GC_M_MASK);
}

}  // namespace

bool is_usps_state(const std::string& code) {
    return std::any_of(kStates.begin(), kStates.end(), [&](const char* s) { return code == s; });
}

std::string normalize_state(const std::string& state) {
    constexpr const char* kHint =
        "Pass the two-letter USPS code of one of the 50 states or DC, such as 'CA' or 'TX'.";
    if (state.size() > kMaxRawStateBytes)
        throw Error(ErrorKind::InvalidParameter, "unknown state code \"" + shown(state) + "\"",
                    kHint);
    const std::string code = upper_ascii(clean_text(state, "state", 0));
    if (code.empty())
        throw Error(ErrorKind::InvalidParameter, "state must not be empty",
                    "Pass a two-letter USPS code such as 'CA'.");
    if (!is_usps_state(code))
        throw Error(ErrorKind::InvalidParameter, "unknown state code \"" + shown(code) + "\"",
                    kHint);
    return code;
}

std::string normalize_license_number(const std::string& license) {
    const std::string value = upper_ascii(clean_text(license, "license number", kMaxLicenseLength));
    if (value.empty())
        throw Error(ErrorKind::InvalidParameter, "license number must not be empty",
                    "Pass the number issued by the state board, such as '1052183'.");
    const std::size_t chars = char_count(value);
    if (chars > kMaxLicenseLength)
        throw Error(ErrorKind::InvalidParameter,
                    "license number is too long (" + std::to_string(chars) +
                        " characters; at most " + std::to_string(kMaxLicenseLength) + ")",
                    "Check that the column holds a license number and not free text.");
    return value;
}

std::string normalize_lookup_name(const std::string& name) {
    const std::string value = clean_text(name, "business name", kMaxNameLength);
    if (value.empty())
        throw Error(ErrorKind::InvalidParameter, "business name must not be empty",
                    "Pass the name on file with the state board, or look up by license number.");
    const std::size_t chars = char_count(value);
    if (chars > kMaxNameLength)
        throw Error(ErrorKind::InvalidParameter,
                    "business name is too long (" + std::to_string(chars) +
                        " characters; at most " + std::to_string(kMaxNameLength) + ")");
    if (business_name_key(value).empty())
        throw Error(ErrorKind::InvalidParameter, "business name has no letters or digits",
                    "Pass the name on file with the state board, or look up by license number.");
    return value;
}

std::string business_name_key(const std::string& name) {
    require_utf8(name, "business name");
    const std::string text = nfkc(name);
    std::string words;
    int depth = 0;
    Utf8Reader r(text);
    for (UChar32 c; r.next(c);) {
        if (c == '(') {
            ++depth;
            continue;
        }
        if (c == ')') {
            if (depth > 0) --depth;
            continue;
        }
        if (depth > 0) continue;
        if (is_word_char(c)) {
            words.append(text, r.begin(), r.pos() - r.begin());
        } else if (c == '.' || c == '\'' || c == 0x2019) {
            // "L.L.C." -> "llc", "O'Brien" and "O’Brien" -> "obrien"
        } else if (!words.empty() && words.back() != ' ') {
            words.push_back(' ');
        }
    }
    while (!words.empty() && words.back() == ' ') words.pop_back();
    // NFKC again: folding can leave a sequence that normalizes further.
    words = nfkc(fold_case(words));

    static const std::array<const char*, 12> suffixes = {
        "llc", "inc",  "corp",         "co",          "ltd",     "lp",
        "llp", "pllc", "incorporated", "corporation", "company", "limited"};
    for (bool stripped = true; stripped;) {
        stripped = false;
        const auto space = words.rfind(' ');
        if (space == std::string::npos) break;  // never strip a name down to nothing
        const std::string last = words.substr(space + 1);
        for (const char* s : suffixes) {
            if (last == s) {
                words.erase(space);
                stripped = true;
                break;
            }
        }
    }
    return words;
}

std::string normalize_status(const std::string& status) {
    return upper_ascii(trim_ascii(status));
}

NormalizedInput normalize_input(const std::optional<std::string>& id,
                                const std::optional<std::string>& state,
                                const std::optional<std::string>& license_number,
                                const std::optional<std::string>& name) {
    NormalizedInput out;
    try {
        if (id) {
            if (id->size() > kMaxIdLength)
                throw Error(ErrorKind::InvalidParameter,
                            "id is too long (" + std::to_string(id->size()) + " bytes; at most " +
                                std::to_string(kMaxIdLength) + ")");
            require_utf8(*id, "id");
        }
        if (!state) throw Error(ErrorKind::InvalidParameter, "state must not be NULL");
        out.state = normalize_state(*state);
        const bool has_license = license_number && !is_blank(*license_number);
        const bool has_name = name && !is_blank(*name);
        if (has_license) {
            out.license_number = normalize_license_number(*license_number);
            out.key = "L:" + out.state + ":" + out.license_number;
        } else if (has_name) {
            out.name = normalize_lookup_name(*name);
            const std::string name_key = business_name_key(out.name);
            if (name_key.empty())
                throw Error(ErrorKind::InvalidParameter, "business name has no letters or digits");
            out.key = "N:" + out.state + ":" + name_key;
        } else {
            throw Error(ErrorKind::InvalidParameter, "needs a license_number or a name");
        }
    } catch (const Error& e) {
        out.error = e.what();
        out.key.clear();
    }
    return out;
}

}  // namespace cv::core
