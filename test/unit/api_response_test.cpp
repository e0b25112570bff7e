#include "core/api_response.h"
#include "core/batch_protocol.h"

#include <gtest/gtest.h>

using namespace cv::core;

namespace {

HttpResponse response(long status, const std::string& body) {
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

const LookupTarget kTarget{"CA", "1052183", ""};

}  // namespace

TEST(ApiResponse, VerifiedRecord) {
    auto in = interpret_single(response(200, R"({"status":"Active","license_number":"1052183"})"), kTarget);
    EXPECT_EQ(in.verdict, Verdict::Answer);
    EXPECT_TRUE(in.observation.verified());
    EXPECT_EQ(in.observation.record->license_status, "ACTIVE");
    EXPECT_EQ(in.observation.http_status, 200);
}

TEST(ApiResponse, PerRecordErrorsAreAnswers) {
    auto nf = interpret_single(response(404, R"({"error_code":"NOT_FOUND","detail":"gone"})"), kTarget);
    EXPECT_EQ(nf.verdict, Verdict::Answer);
    EXPECT_EQ(nf.observation.outcome, "NOT_FOUND");
    EXPECT_EQ(nf.observation.error_message, "gone");

    auto fmt = interpret_single(response(422, R"({"error_code":"INVALID_STATE_FORMAT","detail":"x"})"), kTarget);
    EXPECT_EQ(fmt.observation.outcome, "INVALID_STATE_FORMAT");

    auto many = interpret_single(
        response(409, R"({"error_code":"MULTIPLE_CANDIDATES","candidates":[{"license_number":"1"},{"license_number":"2"}]})"),
        kTarget);
    EXPECT_EQ(many.observation.outcome, "MULTIPLE_CANDIDATES");
    EXPECT_EQ(many.observation.candidates.size(), 2u);

    auto slow = interpret_single(response(504, R"({"error_code":"STATE_TIMEOUT","detail":"board"})"), kTarget);
    EXPECT_EQ(slow.verdict, Verdict::Answer);
    EXPECT_EQ(slow.observation.outcome, "STATE_TIMEOUT");
}

TEST(ApiResponse, TransientAndRateLimited) {
    EXPECT_EQ(interpret_single(response(500, "<html>"), kTarget).verdict, Verdict::Transient);
    EXPECT_EQ(interpret_single(response(503, ""), kTarget).verdict, Verdict::Transient);
    // A gateway's 504 (not the API's STATE_TIMEOUT) is transient.
    EXPECT_EQ(interpret_single(response(504, "<html>gateway</html>"), kTarget).verdict, Verdict::Transient);
    HttpResponse limited = response(429, R"({"error_code":"RATE_LIMITED"})");
    limited.retry_after = std::chrono::seconds(7);
    auto in = interpret_single(limited, kTarget);
    EXPECT_EQ(in.verdict, Verdict::RetryAfter);
    EXPECT_EQ(in.retry_after, std::chrono::seconds(7));
    EXPECT_EQ(in.observation.outcome, "RATE_LIMITED");

    HttpResponse down;
    down.error = TransportError::Connect;
    down.error_text = "Connection refused";
    auto net = interpret_single(down, kTarget);
    EXPECT_EQ(net.verdict, Verdict::Transient);
    EXPECT_EQ(net.reason, "Connection refused");
    EXPECT_EQ(net.observation.outcome, "TRANSPORT_ERROR");
}

TEST(ApiResponse, RejectedAndMalformed) {
    EXPECT_EQ(interpret_single(response(401, R"({"error_code":"UNAUTHORIZED"})"), kTarget).verdict,
              Verdict::Rejected);
    EXPECT_EQ(interpret_single(response(403, ""), kTarget).verdict, Verdict::Rejected);
    EXPECT_EQ(interpret_single(response(418, "{}"), kTarget).verdict, Verdict::Malformed);
    EXPECT_EQ(interpret_single(response(404, "<html>"), kTarget).verdict, Verdict::Malformed);
    HttpResponse big;
    big.error = TransportError::TooLarge;
    big.status = 200;
    EXPECT_EQ(interpret_single(big, kTarget).verdict, Verdict::Malformed);
}

// A 200 whose body cannot be read was most likely damaged on the way: retried.
TEST(ApiResponse, AnUnreadable200IsTransient) {
    for (const char* body : {"{not json", "[1,2]", R"({"state":"CA"})", ""}) {
        auto in = interpret_single(response(200, body), kTarget);
        EXPECT_EQ(in.verdict, Verdict::Transient) << body;
        EXPECT_EQ(in.observation.outcome, "MALFORMED_RESPONSE") << body;
        EXPECT_EQ(in.reason.rfind("HTTP 200", 0), 0u) << in.reason;
        EXPECT_FALSE(in.observation.verified());
    }
}

TEST(ApiResponse, RawBodyKeepsNonJsonShort) {
    auto raw = raw_body(std::string(5000, 'x'));
    EXPECT_EQ(raw["body_bytes"], 5000);
    EXPECT_EQ(raw["unparsed_body"].get<std::string>().size(), 2000u);
    EXPECT_EQ(raw_body(R"({"a":1})")["a"], 1);
}

TEST(ApiResponse, NulEscapesAreReplaced) {
    const auto j = parse_body(R"({"a\u0000b": "x\u0000y", "list": ["\u0000"]})");
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.at("a\xEF\xBF\xBD" "b"), "x\xEF\xBF\xBDy");
    EXPECT_EQ(j.at("list")[0], "\xEF\xBF\xBD");
    EXPECT_TRUE(parse_body("{not json").is_discarded());
}

TEST(ApiResponse, DeepNestingIsNotJson) {
    std::string deep(100000, '[');
    deep += std::string(100000, ']');
    EXPECT_TRUE(parse_body(deep).is_discarded());
    EXPECT_TRUE(parse_body("{\"a\":" + deep + "}").is_discarded());
    std::string fine = std::string(60, '[') + std::string(60, ']');
    EXPECT_FALSE(parse_body(fine).is_discarded());
    // Brackets inside strings do not count.
    EXPECT_FALSE(parse_body("{\"a\": \"" + std::string(1000, '[') + "\"}").is_discarded());
}

TEST(ApiResponse, AnErrorStatusNamingVerifiedIsStillAnError) {
    const LookupTarget t{"CA", "1052183", ""};
    auto in = interpret_single(response(404, R"({"error_code":"VERIFIED","detail":"x"})"), t);
    EXPECT_EQ(in.verdict, Verdict::Answer);
    EXPECT_EQ(in.observation.outcome, outcome::kNotFound);
    in = interpret_single(response(409, R"({"error_code":"","candidates":[]})"), t);
    EXPECT_EQ(in.observation.outcome, outcome::kMultipleCandidates);
    // In a batch result too.
    const std::vector<LookupItem> items{{"1", "CA", "1052183", ""}};
    const auto b = interpret_batch(
        response(200, R"({"results":[{"id":"1","status":"error","error_code":"verified"}]})"), items);
    ASSERT_EQ(b.answers.size(), 1u);
    EXPECT_EQ(b.answers[0].outcome, "UNKNOWN_ERROR");
    EXPECT_FALSE(b.answers[0].verified());
}

namespace {

// The body as the JSON library prints it: what every chunk's body must equal.
std::string library_body(const std::vector<LookupItem>& items) {
    nlohmann::json requests = nlohmann::json::array();
    for (const auto& item : items) {
        nlohmann::json r = {{"id", item.lookup_id}, {"state", item.state}};
        if (!item.license_number.empty())
            r["license_number"] = item.license_number;
        else
            r["name"] = item.name;
        requests.push_back(std::move(r));
    }
    return nlohmann::json{{"requests", std::move(requests)}}.dump();
}

}  // namespace

TEST(BatchRequestBody, SameAsTheJsonLibraryForEveryAsciiByte) {
    std::vector<LookupItem> items = {{"1", "CA", "1000001", ""}, {"2", "TX", "", "Acme \"Best\" Roofing"}};
    std::string every;
    for (int c = 1; c < 0x80; ++c) every += static_cast<char>(c);
    items.push_back({"3", "NY", every, ""});
    items.push_back({"4", "NY", "", "tab\there\\slash\nline\x1f\x7f"});
    const std::string body = batch_request_body(items);
    EXPECT_EQ(body, library_body(items));
    const auto back = nlohmann::json::parse(body);
    ASSERT_EQ(back["requests"].size(), 4u);
    EXPECT_EQ(back["requests"][2]["license_number"], every);
    EXPECT_EQ(back["requests"][1]["name"], "Acme \"Best\" Roofing");
    EXPECT_FALSE(back["requests"][1].contains("license_number"));
}

TEST(BatchRequestBody, NonAsciiGoesThroughTheJsonLibrary) {
    const std::vector<LookupItem> items = {{"1", "CA", "1000001", ""}, {"2", "CA", "", "Müller Bau"}};
    const std::string body = batch_request_body(items);
    EXPECT_EQ(body, library_body(items));
    EXPECT_EQ(nlohmann::json::parse(body)["requests"][1]["name"], "Müller Bau");
}

TEST(BatchRequestBody, EmptyChunk) { EXPECT_EQ(batch_request_body({}), library_body({})); }
