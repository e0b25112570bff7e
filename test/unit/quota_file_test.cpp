#include "core/key_hash.h"
#include "core/quota.h"
#include "core/quota_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>

using namespace cv::core;

namespace {

const std::int32_t kDec = 2026 * 12 + 12;
const std::int32_t kNov = 2026 * 12 + 11;

std::vector<QuotaCount> sample() {
    return {{0x0f3a9c71d2e4b805ULL, kDec, 1250}, {0xffffffffffffffffULL, kDec, 1},
            {0x0000000000000001ULL, kNov, std::numeric_limits<std::int64_t>::max()}};
}

bool same(const std::vector<QuotaCount>& a, const std::vector<QuotaCount>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].account != b[i].account || a[i].month != b[i].month || a[i].used != b[i].used)
            return false;
    return true;
}

std::string refusal(const std::string& text) {
    try {
        decode_quota_counts(text);
    } catch (const QuotaFileInvalid& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(QuotaFile, Format) {
    const std::string text = encode_quota_counts({{0x0f3a9c71d2e4b805ULL, kDec, 1250}});
    EXPECT_EQ(text.substr(0, text.rfind("end ")),
              "contractor_verify monthly lookup counts 1\n"
              "2026-12 0f3a9c71d2e4b805 1250\n");
    EXPECT_EQ(text.substr(text.rfind("end "), 6), "end 1 ");
    EXPECT_EQ(text.size() - text.rfind("end "), std::string("end 1 0123456789abcdef\n").size());
}

TEST(QuotaFile, RoundTripOrdersByMonthAndAccount) {
    const auto decoded = decode_quota_counts(encode_quota_counts(sample()));
    ASSERT_EQ(decoded.size(), 3u);
    EXPECT_EQ(decoded[0].month, kNov);
    EXPECT_EQ(decoded[0].used, std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(decoded[1].account, 0x0f3a9c71d2e4b805ULL);
    EXPECT_EQ(decoded[2].account, 0xffffffffffffffffULL);
    EXPECT_TRUE(same(decode_quota_counts(encode_quota_counts({})), {}));
}

TEST(QuotaFile, EveryTruncationIsRefused) {
    const std::string text = encode_quota_counts(sample());
    for (std::size_t len = 0; len < text.size(); ++len)
        EXPECT_NE(refusal(text.substr(0, len)), "") << "a prefix of " << len << " bytes was accepted";
    EXPECT_EQ(refusal(text.substr(0, text.rfind("end "))), "the file is truncated (it has no end line)");
    EXPECT_EQ(refusal(text.substr(0, text.size() - 1)),
              "the file is truncated (its last line is incomplete)");
    EXPECT_EQ(refusal(""), "the file is empty");
}

TEST(QuotaFile, EveryGarbledByteIsRefused) {
    const std::string text = encode_quota_counts(sample());
    for (std::size_t i = 0; i < text.size(); ++i)
        for (unsigned char flip : {0x01, 0x20, 0x80}) {
            std::string garbled = text;
            garbled[i] = static_cast<char>(garbled[i] ^ flip);
            EXPECT_NE(refusal(garbled), "") << "byte " << i << " ^ " << int(flip) << " was accepted";
        }
    std::string count_changed = text;
    count_changed.replace(count_changed.find(" 1250\n"), 6, " 9250\n");
    EXPECT_EQ(refusal(count_changed), "the checksum does not match (the file is damaged)");
    EXPECT_EQ(refusal("\x7f" "ELF\x02\x01\x01\n"),
              "the first line is not \"contractor_verify monthly lookup counts 1\"");
    EXPECT_NE(refusal(text + text), "");
    EXPECT_NE(refusal(text + "\n"), "");
}

// A file whose checksum is right but whose content is not what the writer
// writes (another version's writer, or a hand edit) is refused too.
TEST(QuotaFile, RefusesWhatTheWriterNeverWrites) {
    const std::string header = "contractor_verify monthly lookup counts 1\n";
    auto sealed = [](const std::string& body, int entries) {
        char sum[20];
        std::snprintf(sum, sizeof sum, "%016llx",
                      static_cast<unsigned long long>(key_hash({&body})));
        return body + "end " + std::to_string(entries) + " " + sum + "\n";
    };
    const std::string line = "2026-12 0000000000000005 7\n";
    ASSERT_EQ(sealed(header + line, 1), encode_quota_counts({{5, kDec, 7}}));
    EXPECT_EQ(refusal(sealed(header + line, 2)), "the end line counts 2 entries, the file has 1");
    EXPECT_EQ(refusal(sealed(header + line + line, 2)),
              "line 3: the account is listed twice for 2026-12");
    EXPECT_EQ(refusal(sealed(header + "2026-13 0000000000000005 7\n", 1)),
              "line 2: not a month (YYYY-MM): \"2026-13\"");
    EXPECT_EQ(refusal(sealed(header + "2026-12 000000000000000A 7\n", 1)),
              "line 2: not an account hash (16 hex digits)");
    for (const char* count : {"-7", "07", "+7", "", "9223372036854775808", "7x"})
        EXPECT_EQ(refusal(sealed(header + "2026-12 0000000000000005 " + count + "\n", 1)),
                  std::string("line 2: not a count: \"") + count + "\"");
    EXPECT_EQ(refusal(sealed(header + "2026-12  0000000000000005 7\n", 1)),
              "line 2: expected a month, an account and a count");
    EXPECT_EQ(refusal(sealed(header + "\n", 1)), "line 2: expected a month, an account and a count");
    EXPECT_EQ(refusal(sealed("contractor_verify monthly lookup counts 2\n", 0)),
              "the first line is not \"contractor_verify monthly lookup counts 1\"");
    EXPECT_EQ(refusal(header + "end 0 zz\n"), "the end line is malformed");
}

TEST(QuotaFile, MergeKeepsTheLargerCountOfTheMonth) {
    const std::vector<QuotaCount> file = {{1, kDec, 40}, {2, kDec, 10}, {3, kNov, 99}, {4, kDec, 0}};
    const std::vector<QuotaCount> live = {{1, kDec, 35}, {2, kDec, 12}, {5, kDec, 3}, {6, kNov, 8}};
    const auto merged = merge_quota_counts(file, live, kDec);
    EXPECT_TRUE(same(merged, {{1, kDec, 40}, {2, kDec, 12}, {5, kDec, 3}}));
    EXPECT_EQ(quota_count_of(merged, 2, kDec), 12);
    EXPECT_EQ(quota_count_of(merged, 3, kDec), 0);
    EXPECT_EQ(quota_count_of(file, 3, kNov), 99);
    EXPECT_EQ(quota_count_of({}, 1, kDec), 0);
    // A new month drops everything of the last one.
    EXPECT_TRUE(merge_quota_counts(file, live, kDec + 1).empty());
}
