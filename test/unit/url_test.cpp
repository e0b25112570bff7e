#include "core/url.h"
#include "core/error.h"

#include <gtest/gtest.h>

using namespace cv::core;

TEST(Url, EncodesReservedCharacters) {
    EXPECT_EQ(url_encode("Pacific Northwest Roofing, LLC"), "Pacific%20Northwest%20Roofing%2C%20LLC");
    EXPECT_EQ(url_encode("a&b=c?d/e#f+g"), "a%26b%3Dc%3Fd%2Fe%23f%2Bg");
    EXPECT_EQ(url_encode("AZaz09-_.~"), "AZaz09-_.~");
    EXPECT_EQ(url_encode("caf\xc3\xa9"), "caf%C3%A9");
    EXPECT_EQ(url_encode(""), "");
}

TEST(Url, SingleLookup) {
    EXPECT_EQ(single_lookup_url("https://api.contractorverify.io/v1", "CA", "1052183", ""),
              "https://api.contractorverify.io/v1/verify?state=CA&license_number=1052183");
    EXPECT_EQ(single_lookup_url("http://h/v1", "WA", "", "A & B"),
              "http://h/v1/verify?state=WA&name=A%20%26%20B");
    EXPECT_EQ(batch_url("http://h/v1"), "http://h/v1/verify/batch");
}

TEST(Url, HostForMessages) {
    EXPECT_EQ(url_host("https://api.contractorverify.io/v1"), "api.contractorverify.io");
    EXPECT_EQ(url_host("http://user:pw@10.0.0.1:8089/v1?x=1"), "10.0.0.1:8089");
    EXPECT_EQ(url_host("http://127.0.0.1:8089"), "127.0.0.1:8089");
}

TEST(Url, CanonicalApiUrl) {
    EXPECT_EQ(canonical_api_url("https://api.contractorverify.io/v1"), "https://api.contractorverify.io/v1");
    EXPECT_EQ(canonical_api_url("HTTPS://API.ContractorVerify.io:443/v1/"),
              "https://api.contractorverify.io/v1");
    EXPECT_EQ(canonical_api_url("http://127.0.0.1:8089/v1"), "http://127.0.0.1:8089/v1");
    EXPECT_EQ(canonical_api_url("http://127.0.0.1:80/v1"), "http://127.0.0.1/v1");
    EXPECT_EQ(canonical_api_url("http://user:secret@h.example/v1?x=1#y"), "http://h.example/v1");
    EXPECT_EQ(canonical_api_url("http://h.example"), "http://h.example");
    // Different paths or ports are different APIs.
    EXPECT_NE(canonical_api_url("http://h.example/v1"), canonical_api_url("http://h.example/v2"));
    EXPECT_NE(canonical_api_url("http://h.example:8080/v1"), canonical_api_url("http://h.example/v1"));
    for (const char* bad : {"ftp://h/v1", "h.example/v1", "http://", "", "http://h /v1", "file:///etc"})
        EXPECT_THROW(canonical_api_url(bad), Error) << bad;
}
