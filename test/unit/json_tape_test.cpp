#include "core/batch_protocol.h"
#include "core/json_tape.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace cv::core;

namespace {

// The JSON library's reading of text, with NUL characters scrubbed as the
// general path scrubs them; discarded when it refuses the text.
nlohmann::json library_reading(const std::string& text) {
    HttpResponse r;
    r.status = 404;  // a per-record answer: the body is kept as raw
    r.body = text;
    auto in = interpret_single(r, LookupTarget{"CA", "1", ""});
    if (in.observation.raw.is_object() && in.observation.raw.contains("unparsed_body"))
        return nlohmann::json(nlohmann::json::value_t::discarded);
    return in.observation.raw;
}

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

// Whatever the tape reader accepts, it reads as the JSON library does; what
// the library refuses, the tape reader refuses too.
TEST(JsonTape, ReadsAsTheLibraryDoes) {
    const std::vector<std::string> texts = {
        R"({"a":1,"b":[true,false,null],"c":{"d":"e"}})",
        R"(  {"x" : [ 1 , 2 ] }  )",
        R"("just a string")", "17", "-0", "null", "[]", "{}", R"([{}, [], ""])",
        R"({"dup":1,"dup":2})",
        R"({"esc":"q\" b\\ s\/ \b\f\n\r\t"})",
        R"({"u":"\u00e9\u4e2d\ud83d\ude00"})",
        R"({"nul":"a\u0000b"})",
        "{\"utf8\":\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"}",
        R"([0, 1.5, -2.25e3, 1E+2, 1e-2, 18446744073709551615, 18446744073709551616,
            -9223372036854775808, -9223372036854775809, 123456789012345678901234567890])",
        R"({"bond_amount":3500000,"n":0.1})",
        nested(64),
        // Refused by both.
        nested(65), "", "   ", "{", "[1,]", R"({"a":1,})", R"({"a" 1})", "[01]", "[1.]", "[.5]", "[-]",
        "[1e]", "[+1]", "[1e400]", "[-1e400]", "tru", "nul", "[true false]", R"("abc)", R"("\x")",
        R"("\u12")", R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", "\"a\tb\"", "\"\x01\"",
        "\"\xC0\x80\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"", "\"\xC3\"", "\"\x80\"",
        "{} {}", "[1] x",
    };
    for (const auto& text : texts) {
        SCOPED_TRACE(text);
        const auto tape = JsonTape::read(text);
        const nlohmann::json lib = library_reading(text);
        if (lib.is_discarded()) {
            EXPECT_FALSE(tape.has_value());
            continue;
        }
        ASSERT_TRUE(tape.has_value());
        EXPECT_EQ(tape->to_json(0), lib);
        EXPECT_EQ(tape->to_json(0).dump(), lib.dump());  // numbers of the same kind, too
    }
    // The library reads past a byte order mark and stops at a NUL byte; the
    // tape reader declines both, and the library reads them as before.
    for (const std::string& text : {std::string("\xEF\xBB\xBF[1]"), std::string("[1]\0junk", 8)}) {
        EXPECT_FALSE(JsonTape::read(text));
        EXPECT_EQ(library_reading(text), nlohmann::json::array({1}));
    }
    // A key holding a NUL is declined: the library path decides which of two
    // keys that scrub alike is kept.
    const std::string clash = R"({"a\uFFFD":"x","a\u0000":"y"})";
    EXPECT_FALSE(JsonTape::read(clash));
    EXPECT_FALSE(JsonTape::read(R"({"k\u0000":1})"));
    EXPECT_TRUE(JsonTape::read(R"({"k":"\u0000"})"));
}

TEST(JsonTape, NavigatesObjectsAndArrays) {
    const auto t = JsonTape::read(R"({"a":[1,{"b":"x"},3],"c":"y","a2":{},"c":"z"})");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->kind(0), JsonTape::Kind::Object);
    EXPECT_EQ(t->size(0), 4u);
    const auto a = t->find(0, "a");
    ASSERT_NE(a, JsonTape::kNone);
    EXPECT_EQ(t->size(a), 3u);
    std::vector<std::uint32_t> elements;
    t->for_each_element(a, [&](std::uint32_t e) { elements.push_back(e); });
    ASSERT_EQ(elements.size(), 3u);
    EXPECT_EQ(t->unsigned_integer(elements[0]), 1u);
    EXPECT_EQ(t->string(t->find(elements[1], "b")), "x");
    EXPECT_EQ(t->unsigned_integer(elements[2]), 3u);
    EXPECT_EQ(t->string(t->find(0, "c")), "z");  // the last of repeated keys
    EXPECT_EQ(t->find(0, "missing"), JsonTape::kNone);
    EXPECT_EQ(t->find(a, "a"), JsonTape::kNone);  // not an object
    EXPECT_EQ(t->first(t->find(0, "a2")), JsonTape::kNone);
}

// A batch's body read from the tape gives the same observations as when the
// JSON library reads it (a byte order mark makes the tape reader decline).
TEST(JsonTape, BatchAnswersMatchTheLibraryPath) {
    const std::string body = R"({"batch_id":"b1","results":[
        {"id":"1","status":"success","license_number":"1000001","state":"ca","license_status":"Active",
         "license_type":"B","classifications":["B","C-10"],"business_name":"Acme \u00e9","issue_date":"2001-02-03",
         "expiration_date":"2030-01-01T00:00:00Z","bond_amount":"2500","insurance_required":"yes",
         "disciplinary_actions":[{"date":"2020-01-01","action":"fine","amount":1.5}],
         "address":{"street":"1 Main","zip":"90000"},"extra":{"n":[1,2,{"m":null}]}},
        {"id":2,"status":"success","license_number":1000002,"classification":"A","license_status":"expired",
         "bond_amount":12.6,"insurance_required":false},
        {"id":"3","status":"error","error_code":"multiple_candidates","error_message":"two",
         "candidates":[{"license_number":"9","business_name":"X"}]},
        {"id":"4","status":"success"},
        {"id":"99","status":"success","license_status":"Active"},
        {"id":"1","status":"success","license_status":"Active"},
        "not an object"
    ]})";
    std::vector<LookupItem> items;
    for (int i = 1; i <= 5; ++i) items.push_back({std::to_string(i), "CA", "100000" + std::to_string(i), ""});
    HttpResponse r;
    r.status = 200;
    r.body = body;
    const auto fast = interpret_batch(r, items);
    r.body = "\xEF\xBB\xBF" + body;
    ASSERT_FALSE(JsonTape::read(r.body));
    const auto general = interpret_batch(r, items);

    ASSERT_EQ(fast.verdict, Verdict::Answer);
    ASSERT_EQ(general.verdict, Verdict::Answer);
    EXPECT_EQ(fast.batch_id, "b1");
    ASSERT_EQ(fast.answers.size(), 5u);
    ASSERT_EQ(general.answers.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        SCOPED_TRACE(i);
        EXPECT_TRUE(fast.answers[i].raw_tape != nullptr || i == 4);  // the fifth is missing: no raw
        EXPECT_EQ(fast.answers[i].to_json(), general.answers[i].to_json());
    }
    EXPECT_EQ(fast.answers[0].outcome, "VERIFIED");
    EXPECT_EQ(fast.answers[0].record->bond_amount_cents, 2500);
    EXPECT_EQ(fast.answers[1].record->bond_amount_cents, 13);
    EXPECT_EQ(fast.answers[1].record->license_number, "1000002");
    EXPECT_EQ(fast.answers[2].outcome, "MULTIPLE_CANDIDATES");
    EXPECT_EQ(fast.answers[3].outcome, "MALFORMED_RESULT");
    EXPECT_EQ(fast.answers[4].outcome, "MISSING_RESULT");
    ASSERT_EQ(fast.anomalies.size(), 3u);
    ASSERT_EQ(general.anomalies.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(fast.anomalies[i].to_json(), general.anomalies[i].to_json());
    EXPECT_EQ(fast.anomalies[2].raw_json(), "not an object");
}

TEST(JsonTape, BatchEnvelopeErrorsAreRetried) {
    std::vector<LookupItem> items = {{"1", "CA", "1", ""}};
    HttpResponse r;
    r.status = 200;
    for (const std::string body : {R"({"results":{}})", R"([1,2])", R"({"batch_id":"x"})", R"({"results":[)"}) {
        SCOPED_TRACE(body);
        r.body = body;
        const auto b = interpret_batch(r, items);
        EXPECT_EQ(b.verdict, Verdict::Transient);
        EXPECT_FALSE(b.reason.empty());
    }
}
