#include "core/error.h"
#include "core/options.h"

#include <gtest/gtest.h>

using cv::core::Error;
using cv::core::ErrorKind;
using cv::core::OptionContext;
using cv::core::ServerSettings;
using cv::core::validate_option;

namespace {

Error expect_error(OptionContext ctx, const std::string& name, const std::string& value) {
    try {
        validate_option(ctx, name, value);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error for " << name << "=" << value;
    return Error(ErrorKind::Internal, "none");
}

}  // namespace

TEST(Options, UnknownOptionHintListsValidOnes) {
    Error e = expect_error(OptionContext::Server, "urll", "x");
    EXPECT_EQ(e.kind(), ErrorKind::InvalidOptionName);
    EXPECT_NE(e.hint().find("url, timeout_ms"), std::string::npos) << e.hint();
    EXPECT_EQ(e.hint().find("api_key"), std::string::npos) << "server hint must not offer api_key";
}

TEST(Options, ApiKeyOnlyInUserMapping) {
    Error e = expect_error(OptionContext::Server, "api_key", "secret-value");
    EXPECT_EQ(e.kind(), ErrorKind::InvalidOptionName);
    EXPECT_NE(e.hint().find("USER MAPPING"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("secret-value"), std::string::npos);
    EXPECT_EQ(e.hint().find("secret-value"), std::string::npos);
    EXPECT_NO_THROW(validate_option(OptionContext::UserMapping, "api_key", "k"));
    EXPECT_EQ(expect_error(OptionContext::UserMapping, "url", "http://x").kind(),
              ErrorKind::InvalidOptionName);
}

TEST(Options, IntegerRangeAndType) {
    EXPECT_NO_THROW(validate_option(OptionContext::Server, "batch_size", "100"));
    EXPECT_EQ(expect_error(OptionContext::Server, "batch_size", "101").kind(),
              ErrorKind::InvalidOptionValue);
    EXPECT_EQ(expect_error(OptionContext::Server, "batch_size", "0").kind(),
              ErrorKind::InvalidOptionValue);
    EXPECT_EQ(expect_error(OptionContext::Server, "timeout_ms", "fast").kind(),
              ErrorKind::InvalidOptionValue);
    EXPECT_EQ(expect_error(OptionContext::Server, "max_retries", "3x").kind(),
              ErrorKind::InvalidOptionValue);
    Error e = expect_error(OptionContext::Server, "max_retries", "11");
    EXPECT_NE(e.hint().find("between 0 and 10"), std::string::npos) << e.hint();
}

TEST(Options, DurationsAndUrls) {
    EXPECT_NO_THROW(validate_option(OptionContext::Server, "cache_ttl", "4h"));
    EXPECT_NO_THROW(validate_option(OptionContext::Server, "cache_ttl", "0"));
    EXPECT_EQ(expect_error(OptionContext::Server, "cache_ttl", "forever").kind(),
              ErrorKind::InvalidOptionValue);
    EXPECT_EQ(expect_error(OptionContext::Server, "url", "ftp://x").kind(),
              ErrorKind::InvalidOptionValue);
    EXPECT_EQ(expect_error(OptionContext::Server, "url", "http://").kind(),
              ErrorKind::InvalidOptionValue);
    EXPECT_NO_THROW(validate_option(OptionContext::Server, "url", "http://127.0.0.1:8089/v1"));
}

TEST(Options, EmptySecretRejected) {
    EXPECT_EQ(expect_error(OptionContext::UserMapping, "api_key", "").kind(),
              ErrorKind::InvalidOptionValue);
}

TEST(Options, SettingsDefaultsAndOverrides) {
    ServerSettings d = ServerSettings::from_options({});
    EXPECT_EQ(d.url, "https://api.contractorverify.io/v1");
    EXPECT_EQ(d.batch_size, 100);
    EXPECT_EQ(d.calls_per_minute, 10);
    EXPECT_EQ(d.cache_ttl, std::chrono::hours(24));
    EXPECT_EQ(d.cache_ttl_flagged, std::chrono::hours(4));
    EXPECT_EQ(d.cache_ttl_not_found, std::chrono::hours(1));
    EXPECT_EQ(d.monthly_lookup_quota, 0);

    ServerSettings s = ServerSettings::from_options(
        {{"url", "http://127.0.0.1:1/v1/"}, {"batch_size", "25"}, {"cache_ttl", "30min"}});
    EXPECT_EQ(s.url, "http://127.0.0.1:1/v1");
    EXPECT_EQ(s.batch_size, 25);
    EXPECT_EQ(s.cache_ttl, std::chrono::minutes(30));
    EXPECT_THROW(ServerSettings::from_options({{"nope", "1"}}), Error);
}
