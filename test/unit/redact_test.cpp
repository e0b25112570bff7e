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
