#include "core/quota_file.h"

#include "core/key_hash.h"
#include "core/quota.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace cv::core {

namespace {

constexpr const char* kHeader = "contractor_verify monthly lookup counts 1";

std::string hex16(std::uint64_t v) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
    return buf;
}

// Exactly 16 lower-case hex digits.
std::optional<std::uint64_t> parse_hex16(const std::string& s) {
    if (s.size() != 16) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        int digit;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else
            return std::nullopt;
        v = (v << 4) | static_cast<std::uint64_t>(digit);
    }
    return v;
}

// Decimal digits only, no sign or leading zero, within int64.
std::optional<std::int64_t> parse_count(const std::string& s) {
    if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const int digit = c - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) return std::nullopt;
        v = v * 10 + digit;
    }
    return v;
}

// Splits on single spaces; an empty field (two spaces, a leading or
// trailing space) is kept as such and refused by the field's parser.
std::vector<std::string> fields(const std::string& line) {
    std::vector<std::string> out(1);
    for (char c : line) {
        if (c == ' ')
            out.emplace_back();
        else
            out.back() += c;
    }
    return out;
}

// The checksum of everything before the end line.
std::uint64_t checksum(const std::string& body) { return key_hash({&body}); }

}  // namespace

std::string encode_quota_counts(std::vector<QuotaCount> counts) {
    std::sort(counts.begin(), counts.end(), [](const QuotaCount& x, const QuotaCount& y) {
        return std::pair(x.month, x.account) < std::pair(y.month, y.account);
    });
    std::string body = std::string(kHeader) + "\n";
    for (const auto& c : counts)
        body += month_label(c.month) + " " + hex16(c.account) + " " + std::to_string(c.used) + "\n";
    return body + "end " + std::to_string(counts.size()) + " " + hex16(checksum(body)) + "\n";
}

std::vector<QuotaCount> decode_quota_counts(const std::string& text) {
    if (text.empty()) throw QuotaFileInvalid("the file is empty");
    if (text.back() != '\n') throw QuotaFileInvalid("the file is truncated (its last line is incomplete)");
    const std::size_t first_end = text.find('\n');
    if (text.compare(0, first_end, kHeader) != 0 || first_end != std::string(kHeader).size())
        throw QuotaFileInvalid("the first line is not \"" + std::string(kHeader) + "\"");
    // The end line: the last one.
    const std::size_t end_start = text.rfind('\n', text.size() - 2) + 1;
    if (end_start <= first_end) throw QuotaFileInvalid("the file is truncated (it has no end line)");
    const std::string end_line = text.substr(end_start, text.size() - 1 - end_start);
    const auto end = fields(end_line);
    if (end.size() != 3 || end[0] != "end")
        throw QuotaFileInvalid("the file is truncated (it has no end line)");
    const auto entries = parse_count(end[1]);
    const auto sum = parse_hex16(end[2]);
    if (!entries || !sum) throw QuotaFileInvalid("the end line is malformed");
    const std::string body = text.substr(0, end_start);
    if (*sum != checksum(body)) throw QuotaFileInvalid("the checksum does not match (the file is damaged)");

    std::vector<QuotaCount> out;
    std::set<std::pair<std::int32_t, std::uint64_t>> seen;
    std::size_t pos = first_end + 1;
    for (int line_no = 2; pos < end_start; ++line_no) {
        const std::size_t nl = text.find('\n', pos);
        const auto f = fields(text.substr(pos, nl - pos));
        pos = nl + 1;
        const std::string where = "line " + std::to_string(line_no) + ": ";
        if (f.size() != 3) throw QuotaFileInvalid(where + "expected a month, an account and a count");
        QuotaCount c;
        const auto month = parse_month_label(f[0]);
        const auto account = parse_hex16(f[1]);
        const auto used = parse_count(f[2]);
        if (!month) throw QuotaFileInvalid(where + "not a month (YYYY-MM): \"" + f[0] + "\"");
        if (!account) throw QuotaFileInvalid(where + "not an account hash (16 hex digits)");
        if (!used) throw QuotaFileInvalid(where + "not a count: \"" + f[2] + "\"");
        c.month = *month;
        c.account = *account;
        c.used = *used;
        if (!seen.emplace(c.month, c.account).second)
            throw QuotaFileInvalid(where + "the account is listed twice for " + f[0]);
        out.push_back(c);
    }
    if (static_cast<std::int64_t>(out.size()) != *entries)
        throw QuotaFileInvalid("the end line counts " + end[1] + " entries, the file has " +
                               std::to_string(out.size()));
    return out;
}

std::vector<QuotaCount> merge_quota_counts(const std::vector<QuotaCount>& a,
                                           const std::vector<QuotaCount>& b, std::int32_t month) {
    std::map<std::uint64_t, std::int64_t> used;
    for (const auto* list : {&a, &b})
        for (const auto& c : *list)
            if (c.month == month && c.used > 0) used[c.account] = std::max(used[c.account], c.used);
    std::vector<QuotaCount> out;
    out.reserve(used.size());
    for (const auto& [account, n] : used) out.push_back({account, month, n});
    return out;
}

std::int64_t quota_count_of(const std::vector<QuotaCount>& counts, std::uint64_t account,
                            std::int32_t month) {
    for (const auto& c : counts)
        if (c.account == account && c.month == month) return c.used;
    return 0;
}

}  // namespace cv::core
