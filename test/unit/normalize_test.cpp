#include "core/error.h"
#include "core/normalize.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

using namespace cv::core;

namespace {

// UTF-8 of characters that must never reach a message raw.
const std::vector<std::string> kInvisibles = {
    "\xC2\x85",      // U+0085 NEXT LINE (C1 control)
    "\xE2\x80\x8B",  // U+200B ZERO WIDTH SPACE
    "\xE2\x80\xA8",  // U+2028 LINE SEPARATOR
    "\xE2\x80\xA9",  // U+2029 PARAGRAPH SEPARATOR
    "\xEF\xBB\xBF",  // U+FEFF BYTE ORDER MARK
    "\xE2\x80\x8E",  // U+200E LEFT-TO-RIGHT MARK
    "\xC2\xAD",      // U+00AD SOFT HYPHEN
    "\x01",          // a C0 control
    "\x7F",          // DEL
};

bool shows_raw_invisible(const std::string& message) {
    for (unsigned char c : message)
        if (c < 0x20 || c == 0x7F) return true;
    for (const auto& seq : kInvisibles)
        if (message.find(seq) != std::string::npos) return true;
    return false;
}

// The Error thrown by `f`, which must throw one.
Error error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no Error thrown";
    return Error(ErrorKind::Internal, "");
}

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST(Normalize, StateCodes) {
    EXPECT_EQ(normalize_state(" ca "), "CA");
    EXPECT_EQ(normalize_state("dc"), "DC");
    EXPECT_EQ(normalize_state("Wy"), "WY");
    EXPECT_THROW(normalize_state(""), Error);
    EXPECT_THROW(normalize_state("XX"), Error);
    EXPECT_THROW(normalize_state("PR"), Error);  // territories are not covered
    EXPECT_THROW(normalize_state("California"), Error);
    try {
        normalize_state("zz");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidParameter);
        EXPECT_NE(e.hint().find("USPS"), std::string::npos);
    }
}

TEST(Normalize, LicenseNumbers) {
    EXPECT_EQ(normalize_license_number("  1052183\t"), "1052183");
    EXPECT_EQ(normalize_license_number("cbc1234567"), "CBC1234567");
    EXPECT_EQ(normalize_license_number(std::string(64, '9')), std::string(64, '9'));
    EXPECT_THROW(normalize_license_number(std::string(65, '9')), Error);
    EXPECT_THROW(normalize_license_number("   "), Error);
    EXPECT_THROW(normalize_license_number("12\n34"), Error);
    EXPECT_THROW(normalize_license_number(std::string("12\0"
                                                      "34",
                                                      5)),
                 Error);
}

TEST(Normalize, LookupNames) {
    EXPECT_EQ(normalize_lookup_name("  Pacific Electric Inc "), "Pacific Electric Inc");
    EXPECT_THROW(normalize_lookup_name(""), Error);
    EXPECT_THROW(normalize_lookup_name(std::string(257, 'x')), Error);
}

TEST(Normalize, BusinessNameKeysDeduplicate) {
    EXPECT_EQ(business_name_key("Pacific Northwest Roofing LLC"), "pacific northwest roofing");
    EXPECT_EQ(business_name_key("PACIFIC NORTHWEST ROOFING, L.L.C."), "pacific northwest roofing");
    EXPECT_EQ(business_name_key("Pacific Northwest Roofing LLC (2)"), "pacific northwest roofing");
    EXPECT_EQ(business_name_key("Sunshine Builders, Inc."), "sunshine builders");
    EXPECT_EQ(business_name_key("Acme Co. Ltd"), "acme");
    EXPECT_EQ(business_name_key("  O'Brien   & Sons  Corp "), "obrien sons");
    // A name made only of a suffix word stays itself.
    EXPECT_EQ(business_name_key("Company"), "company");
    EXPECT_NE(business_name_key("Acme Roofing"), business_name_key("Acme Plumbing"));
}

TEST(Normalize, Status) {
    EXPECT_EQ(normalize_status("Active"), "ACTIVE");
    EXPECT_EQ(normalize_status(" suspended "), "SUSPENDED");
}

TEST(Normalize, RosterRows) {
    auto a =
        normalize_input(std::nullopt, std::string("ca"), std::string(" 1052183 "), std::nullopt);
    EXPECT_EQ(a.error, "");
    EXPECT_EQ(a.key, "L:CA:1052183");
    auto b = normalize_input(std::nullopt, std::string("CA"), std::string("1052183"),
                             std::string("ignored"));
    EXPECT_EQ(b.key, a.key);  // a license number wins over a name
    auto n1 = normalize_input(std::nullopt, std::string("WA"), std::string(""),
                              std::string("Pacific Northwest Roofing LLC"));
    auto n2 = normalize_input(std::nullopt, std::string("wa"), std::nullopt,
                              std::string("PACIFIC NORTHWEST ROOFING, L.L.C."));
    EXPECT_EQ(n1.key, "N:WA:pacific northwest roofing");
    EXPECT_EQ(n1.key, n2.key);
    EXPECT_EQ(n1.name, "Pacific Northwest Roofing LLC");

    EXPECT_EQ(normalize_input(std::nullopt, std::nullopt, std::string("1"), std::nullopt).error,
              "state must not be NULL");
    EXPECT_EQ(
        normalize_input(std::nullopt, std::string("XX"), std::string("1"), std::nullopt).error,
        "unknown state code \"XX\"");
    EXPECT_EQ(normalize_input(std::nullopt, std::string("CA"), std::nullopt, std::nullopt).error,
              "needs a license_number or a name");
    EXPECT_EQ(
        normalize_input(std::nullopt, std::string("CA"), std::string("  "), std::string(" ")).error,
        "needs a license_number or a name");
    EXPECT_EQ(
        normalize_input(std::nullopt, std::string("CA"), std::nullopt, std::string("!!!")).error,
        "business name has no letters or digits");
    EXPECT_TRUE(
        normalize_input(std::nullopt, std::string("CA"), std::string(100, '9'), std::nullopt)
            .key.empty());
}

TEST(NormalizeUnicode, FullWidthLicenseDigitsEqualAscii) {
    EXPECT_EQ(normalize_license_number("\uFF11\uFF10\uFF15\uFF12\uFF11\uFF18\uFF13"), "1052183");
    EXPECT_EQ(normalize_license_number("\uFF43\uFF42\uFF43\uFF11\uFF12"), "CBC12");
    auto ascii =
        normalize_input(std::nullopt, std::string("CA"), std::string("1052183"), std::nullopt);
    auto wide =
        normalize_input(std::nullopt, std::string("CA"),
                        std::string("\uFF11\uFF10\uFF15\uFF12\uFF11\uFF18\uFF13"), std::nullopt);
    EXPECT_EQ(wide.error, "");
    EXPECT_EQ(wide.key, ascii.key);
    EXPECT_EQ(wide.license_number, "1052183");
}

TEST(NormalizeUnicode, InvisibleCharactersRejectedInLicenseNumbers) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"\xC2\x85", "U+0085"},     {"\xE2\x80\x8B", "U+200B"}, {"\xE2\x80\xA8", "U+2028"},
        {"\xE2\x80\xA9", "U+2029"}, {"\xEF\xBB\xBF", "U+FEFF"}, {"\xE2\x80\x8E", "U+200E"},
        {"\xC2\xAD", "U+00AD"},     {"\x01", "U+0001"},         {"\x7F", "U+007F"}};
    for (const auto& [seq, code] : cases) {
        // Anywhere in the value, including the ends: never trimmed away.
        for (const std::string& value : {"105" + seq + "2183", seq + "1052183", "1052183" + seq}) {
            const Error e = error_of([&] { normalize_license_number(value); });
            EXPECT_EQ(e.kind(), ErrorKind::InvalidParameter) << code;
            EXPECT_NE(std::string(e.what()).find(code), std::string::npos) << e.what();
            EXPECT_FALSE(shows_raw_invisible(e.what())) << code;
            EXPECT_FALSE(e.hint().empty());
        }
    }
    EXPECT_NE(std::string(error_of([] {
                              normalize_license_number(
                                  "105\xE2\x80\x8B"
                                  "2183");
                          }).what())
                  .find("ZERO WIDTH SPACE"),
              std::string::npos);
    // A roster row carries the same refusal as its error, and no key.
    auto row = normalize_input(std::nullopt, std::string("CA"),
                               std::string("105\xE2\x80\x8B"
                                           "2183"),
                               std::nullopt);
    EXPECT_TRUE(row.key.empty());
    EXPECT_NE(row.error.find("U+200B"), std::string::npos);
    // A value made only of an invisible character is not "blank": refused, not a name lookup.
    auto only = normalize_input(std::nullopt, std::string("CA"), std::string("\xE2\x80\x8B"),
                                std::string("Acme Roofing"));
    EXPECT_TRUE(only.key.empty());
    EXPECT_NE(only.error.find("U+200B"), std::string::npos);
}

TEST(NormalizeUnicode, InvalidUtf8Rejected) {
    const std::vector<std::string> bad = {
        "12\xFF"
        "34",                // never valid
        "12\xC3",            // truncated sequence
        "\xC0\xAF",          // overlong '/'
        "\xED\xA0\x80",      // UTF-16 surrogate
        "\xF4\x90\x80\x80",  // beyond U+10FFFF
        "\x80"
        "1052183",  // stray continuation byte
    };
    for (const auto& value : bad) {
        for (const auto& f : std::vector<std::function<void()>>{
                 [&] { normalize_license_number(value); }, [&] { normalize_lookup_name(value); },
                 [&] { normalize_state(value); }, [&] { business_name_key(value); }}) {
            const Error e = error_of(f);
            EXPECT_EQ(e.kind(), ErrorKind::InvalidParameter);
            EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
            EXPECT_NE(e.hint().find("UTF-8"), std::string::npos);
        }
    }
    EXPECT_EQ(std::string(error_of([] {
                              normalize_license_number(
                                  "12\xFF"
                                  "34");
                          }).what()),
              "license number \"12\\xFF34\" is not valid UTF-8 (byte 3)");
}

TEST(NormalizeUnicode, UnicodeWhitespaceTrimmed) {
    // U+00A0 NO-BREAK SPACE, U+3000 IDEOGRAPHIC SPACE, U+2003 EM SPACE, U+1680 OGHAM SPACE MARK.
    EXPECT_EQ(normalize_license_number("\u00A0"
                                       "1052183\u3000"),
              "1052183");
    EXPECT_EQ(normalize_license_number("\u3000\u2003"
                                       "1052183\u1680\t"),
              "1052183");
    EXPECT_EQ(normalize_lookup_name("\u3000Acme Roofing\u00A0"), "Acme Roofing");
    EXPECT_EQ(normalize_lookup_name("Acme\u00A0Roofing"), "Acme Roofing");  // NFKC: a plain space
    EXPECT_EQ(normalize_state("\u00A0"
                              "ca\u3000"),
              "CA");
    EXPECT_THROW(normalize_license_number("\u00A0\u3000"), Error);  // empty once trimmed
    // Blank in any script counts as absent: the name is used.
    auto row = normalize_input(std::nullopt, std::string("WA"), std::string("\u3000\u00A0"),
                               std::string("Pacific Northwest Roofing LLC"));
    EXPECT_EQ(row.error, "");
    EXPECT_EQ(row.key, "N:WA:pacific northwest roofing");
}

TEST(NormalizeUnicode, LengthCountedInCharacters) {
    // 64 full-width digits are 192 bytes but 64 characters, 64 once normalized.
    EXPECT_EQ(normalize_license_number(repeat("\uFF19", 64)), std::string(64, '9'));
    // Two bytes per character, decomposed input composed first: still 64.
    EXPECT_EQ(normalize_license_number(repeat("\u00C9", 64)), repeat("\u00C9", 64));
    EXPECT_EQ(normalize_license_number(repeat("E\u0301", 64)), repeat("\u00C9", 64));
    const Error e = error_of([] { normalize_license_number(repeat("\u00C9", 65)); });
    EXPECT_EQ(std::string(e.what()), "license number is too long (65 characters; at most 64)");
    EXPECT_THROW(normalize_license_number(repeat("\uFF19", 65)), Error);

    EXPECT_EQ(normalize_lookup_name(repeat("\u00E9", 256)), repeat("\u00E9", 256));
    EXPECT_EQ(std::string(error_of([] { normalize_lookup_name(repeat("\u00E9", 257)); }).what()),
              "business name is too long (257 characters; at most 256)");
    // Free text far beyond any limit is refused before it is normalized.
    EXPECT_NE(
        std::string(error_of([] { normalize_license_number(std::string(1 << 20, '9')); }).what())
            .find("too long"),
        std::string::npos);
}

TEST(NormalizeUnicode, StateCodesNormalized) {
    EXPECT_EQ(normalize_state("\uFF23\uFF21"), "CA");
    EXPECT_EQ(normalize_state("\uFF43\uFF41"), "CA");
    const Error zw = error_of([] {
        normalize_state(
            "C\xE2\x80\x8B"
            "A");
    });
    EXPECT_NE(std::string(zw.what()).find("U+200B"), std::string::npos);
    EXPECT_FALSE(shows_raw_invisible(zw.what()));
    // Non-printable code points appear as U+XXXX in the excerpt.
    EXPECT_EQ(std::string(error_of([] {
                              normalize_state(
                                  "C\u1680"
                                  "A");
                          }).what()),
              "unknown state code \"CU+1680A\"");
    EXPECT_THROW(normalize_state(std::string(1000, 'C')), Error);
}

TEST(NormalizeUnicode, LookupNamesNormalized) {
    EXPECT_EQ(normalize_lookup_name("\uFF21\uFF43\uFF4D\uFF45 Roofing"),
              "Acme Roofing");  // case kept
    EXPECT_EQ(normalize_lookup_name("Cafe\u0301 Roofing"), "Caf\u00E9 Roofing");
    for (const auto& seq : kInvisibles) {
        const Error e = error_of([&] { normalize_lookup_name("Acme" + seq + "Roofing"); });
        EXPECT_EQ(e.kind(), ErrorKind::InvalidParameter);
        EXPECT_FALSE(shows_raw_invisible(e.what()));
        EXPECT_FALSE(e.hint().empty());
    }
}

TEST(NormalizeUnicode, BusinessNameKeys) {
    EXPECT_EQ(business_name_key("\uFF30\uFF41\uFF43\uFF49\uFF46\uFF49\uFF43 Roofing\uFF0C L.L.C."),
              "pacific roofing");
    EXPECT_EQ(business_name_key("Acme Roofing \uFF08North\uFF09"),
              "acme roofing");  // full-width parens
    // Accented letters are word characters, folded, composed or not.
    EXPECT_EQ(business_name_key("Caf\u00E9 Roofing LLC"), "caf\u00E9 roofing");
    EXPECT_EQ(business_name_key("CAFE\u0301 ROOFING"), "caf\u00E9 roofing");
    EXPECT_EQ(business_name_key("Stra\u00DFe Bau"), business_name_key("STRASSE BAU"));
    EXPECT_EQ(business_name_key("\u0394\u0395\u039B\u03A4\u0391 Builders Inc"),
              "\u03B4\u03B5\u03BB\u03C4\u03B1 builders");
    EXPECT_EQ(business_name_key("\u6771\u4EAC\u5EFA\u8A2D Co"), "\u6771\u4EAC\u5EFA\u8A2D");
    // Non-ASCII punctuation separates words; the typographic apostrophe joins like '.
    EXPECT_EQ(business_name_key("Acme\u2014Roofing \u00ABWest\u00BB"), "acme roofing west");
    EXPECT_EQ(business_name_key("O\u2019Brien & Sons"), business_name_key("O'Brien & Sons"));
    EXPECT_NE(business_name_key("Caf\u00E9 Roofing"), business_name_key("Cafe Roofing"));
}

TEST(NormalizeUnicode, RosterIds) {
    const auto ok = normalize_input(std::string(kMaxIdLength, 'x'), std::string("CA"),
                                    std::string("1052183"), std::nullopt);
    EXPECT_EQ(ok.error, "");
    EXPECT_EQ(ok.key, "L:CA:1052183");
    EXPECT_EQ(normalize_input(std::string("row-\u00E9"), std::string("CA"), std::string("1"),
                              std::nullopt)
                  .error,
              "");

    const auto long_id = normalize_input(std::string(kMaxIdLength + 1, 'x'), std::string("CA"),
                                         std::string("1052183"), std::nullopt);
    EXPECT_EQ(long_id.error, "id is too long (10001 bytes; at most 10000)");
    EXPECT_TRUE(long_id.key.empty());
    // The limit is in bytes: 5001 two-byte characters are over it.
    EXPECT_FALSE(
        normalize_input(repeat("\u00E9", 5001), std::string("CA"), std::string("1"), std::nullopt)
            .error.empty());

    const auto bad_id = normalize_input(std::string("row\xFF"), std::string("CA"),
                                        std::string("1052183"), std::nullopt);
    EXPECT_EQ(bad_id.error, "id \"row\\xFF\" is not valid UTF-8 (byte 4)");
    EXPECT_TRUE(bad_id.key.empty());
    EXPECT_FALSE(shows_raw_invisible(bad_id.error));
}
