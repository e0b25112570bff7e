#include "core/redact.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

using cv::core::redact;

TEST(Redact, ReplacesEveryOccurrence) {
    std::string body = R"({"error_code":"UNAUTHORIZED","detail":"key sk_live_0123456789 is not sk_live_0123456789x"})";
    EXPECT_EQ(redact(body, "sk_live_0123456789"), 2u);
    EXPECT_EQ(body, R"({"error_code":"UNAUTHORIZED","detail":"key [redacted] is not [redacted]x"})");
    EXPECT_TRUE(nlohmann::json::accept(body));
}

TEST(Redact, LeavesTextWithoutTheSecretAlone) {
    std::string body = R"({"status":"ok"})";
    EXPECT_EQ(redact(body, "sk_live_0123456789"), 0u);
    EXPECT_EQ(body, R"({"status":"ok"})");
}

TEST(Redact, ShortSecretsAreNotSearched) {
    std::string body = R"({"status":"ok"})";
    EXPECT_EQ(redact(body, "status"), 0u);
    EXPECT_EQ(redact(body, ""), 0u);
    EXPECT_EQ(body, R"({"status":"ok"})");
}

TEST(Redact, ASecretContainingTheReplacementEnds) {
    std::string text = "a[redacted]b[redacted]c";
    EXPECT_EQ(redact(text, "[redacted]"), 2u);
    EXPECT_EQ(text, "a[redacted]b[redacted]c");
}

// A key as a JSON encoder writes it (PHP escapes "/", any encoder escapes
// '"' and '\', some escape every non-ASCII character): redacted whole, and
// the body stays valid JSON with everything else as it was.
TEST(Redact, FindsTheSecretThroughJsonEscapes) {
    const std::string key = "sk/live\"01\\23456789\xC3\xA9";
    std::string body = R"({"detail":"key sk\/live\"01\\23456789\u00e9 refused","bond_amount":12345678,"n":"sk\/live"})";
    EXPECT_EQ(redact(body, key), 1u);
    ASSERT_TRUE(nlohmann::json::accept(body));
    const auto parsed = nlohmann::json::parse(body);
    EXPECT_EQ(parsed["detail"], "key [redacted] refused");
    EXPECT_EQ(parsed["bond_amount"], 12345678);
    EXPECT_EQ(parsed["n"], "sk/live");
}

// A key that ends in a backslash, or holds what reads as an escape: the
// raw text matching part of an escape is not a match, and the body is
// never broken by a replacement inside an escape.
TEST(Redact, NeverBreaksAnEscape) {
    const std::string key = "abcdefgh\\";
    std::string body = R"({"detail":"abcdefgh\"quoted\"","other":"abcdefgh\\"})";
    EXPECT_EQ(redact(body, key), 1u);
    ASSERT_TRUE(nlohmann::json::accept(body));
    const auto parsed = nlohmann::json::parse(body);
    EXPECT_EQ(parsed["detail"], "abcdefgh\"quoted\"");
    EXPECT_EQ(parsed["other"], "[redacted]");
    std::string u = R"({"detail":"x \\u0041BCDEFGH y"})";
    EXPECT_EQ(redact(u, "\\u0041BCDEFGH"), 1u);
    ASSERT_TRUE(nlohmann::json::accept(u));
    EXPECT_EQ(nlohmann::json::parse(u)["detail"], "x [redacted] y");
}

// A digit key is looked for in strings only: a number that happens to hold
// it is left as it is.
TEST(Redact, LeavesNumbersAlone) {
    std::string body = R"({"bond_amount":1234567890,"detail":"key 12345678"})";
    EXPECT_EQ(redact(body, "12345678"), 1u);
    EXPECT_EQ(body, R"({"bond_amount":1234567890,"detail":"key [redacted]"})");
}

// A body that is not JSON (a proxy's page, a 5xx's text): every occurrence as written.
TEST(Redact, PlainTextAsWritten) {
    std::string body = "<html>Bearer sk_live_0123456789 denied \\ sk_live_0123456789</html>";
    EXPECT_EQ(redact(body, "sk_live_0123456789"), 2u);
    EXPECT_EQ(body, "<html>Bearer [redacted] denied \\ [redacted]</html>");
}

// A body cut short in the middle of the key (a reset connection): the
// beginning it ends with goes too, since an error quotes the body.
TEST(Redact, ABodyCutInsideTheKey) {
    std::string body = R"({"error_code":"UNAUTHORIZED","detail":"Bearer sk_live_0123)";
    EXPECT_EQ(redact(body, "sk_live_0123456789"), 1u);
    EXPECT_EQ(body, R"({"error_code":"UNAUTHORIZED","detail":"Bearer [redacted])");
    std::string whole = "sk_live_0123456789 then sk_l";
    EXPECT_EQ(redact(whole, "sk_live_0123456789"), 2u);
    EXPECT_EQ(whole, "[redacted] then [redacted]");
    std::string short_end = "ends in sk_";
    EXPECT_EQ(redact(short_end, "sk_live_0123456789"), 0u);
    EXPECT_EQ(short_end, "ends in sk_");
}
