#include "core/error.h"
#include "core/observation_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace cv::core;
using nlohmann::json;

namespace {

Observation full() {
    Observation o;
    o.id = "row-7";
    o.state = "CA";
    o.license_number = "1052183";
    o.name = "Pacific Electric";
    o.outcome = outcome::kVerified;
    o.http_status = 200;
    o.error_message = "";
    o.candidates = json::array({{{"license_number", "1"}, {"business_name", "A \u00e9"}},
                                {{"license_number", "2"}, {"business_name", nullptr}}});
    LicenseRecord r;
    r.state = "CA";
    r.license_number = "1052183";
    r.license_status = "ACTIVE";
    r.license_type = "C-10";
    r.classifications = {"C-10", "C-7", ""};
    r.business_name = "Pacific Electric Inc";
    r.issue_date = "2011-04-02";
    r.expiration_date = "2027-02-28";
    r.bond_amount_cents = -2500000;
    r.insurance_required = false;
    r.disciplinary_actions = json::array({{{"date", "2023-05-01"}, {"amount", 12.5}, {"n", -3},
                                           {"big", 18446744073709551615ull}, {"ok", true}}});
    r.address = {{"street", "1 Main"}, {"zip", "94107"}, {"unit", nullptr}};
    o.record = r;
    o.raw = {{"status", "success"}};
    o.observed_at_ms = 1764892800123;
    o.ttl_ms = 0;
    o.retry_at_ms = 1764892900000;
    o.batch_id = "b-1";
    o.request_kind = "batch";
    o.attempt_only = true;
    o.charged_lookups = 3;
    return o;
}

void expect_same(const Observation& a, const Observation& b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.license_number, b.license_number);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.outcome, b.outcome);
    EXPECT_EQ(a.http_status, b.http_status);
    EXPECT_EQ(a.error_message, b.error_message);
    EXPECT_EQ(a.candidates, b.candidates);
    EXPECT_EQ(a.candidates.type(), b.candidates.type());
    ASSERT_EQ(a.record.has_value(), b.record.has_value());
    if (a.record) {
        const LicenseRecord &x = *a.record, &y = *b.record;
        EXPECT_EQ(x.state, y.state);
        EXPECT_EQ(x.license_number, y.license_number);
        EXPECT_EQ(x.license_status, y.license_status);
        EXPECT_EQ(x.license_type, y.license_type);
        EXPECT_EQ(x.classifications, y.classifications);
        EXPECT_EQ(x.business_name, y.business_name);
        EXPECT_EQ(x.issue_date, y.issue_date);
        EXPECT_EQ(x.expiration_date, y.expiration_date);
        EXPECT_EQ(x.bond_amount_cents, y.bond_amount_cents);
        EXPECT_EQ(x.insurance_required, y.insurance_required);
        EXPECT_EQ(x.disciplinary_actions, y.disciplinary_actions);
        EXPECT_EQ(x.address, y.address);
        EXPECT_EQ(x.address.type(), y.address.type());
    }
    EXPECT_EQ(a.observed_at_ms, b.observed_at_ms);
    EXPECT_EQ(a.ttl_ms, b.ttl_ms);
    EXPECT_EQ(a.retry_at_ms, b.retry_at_ms);
    EXPECT_EQ(a.batch_id, b.batch_id);
    EXPECT_EQ(a.request_kind, b.request_kind);
    EXPECT_EQ(a.attempt_only, b.attempt_only);
    EXPECT_EQ(a.charged_lookups, b.charged_lookups);
}

std::string encode(const Observation& o, bool raw_beside = false) {
    std::string bytes;
    ByteWriter w(bytes);
    encode_observation(o, w, raw_beside);
    return bytes;
}

Observation round_trip(const Observation& o, bool raw_beside = false) {
    const std::string bytes = encode(o, raw_beside);
    ByteReader r(bytes);
    Observation back = decode_observation(r);
    EXPECT_TRUE(r.at_end());
    return back;
}

}  // namespace

TEST(ObservationCodec, EveryFieldRoundTrips) {
    const Observation o = full();
    const Observation back = round_trip(o);
    expect_same(o, back);
    EXPECT_TRUE(back.raw.is_null());  // the raw record travels beside, as jsonb
}

TEST(ObservationCodec, AbsentAndEmptyStayApart) {
    Observation o = full();
    o.record->license_type = "";  // present, empty
    o.record->business_name.reset();
    o.record->issue_date.reset();
    o.record->bond_amount_cents.reset();
    o.record->insurance_required.reset();
    o.record->classifications.clear();
    o.record->disciplinary_actions = json::array();
    o.record->address = nullptr;
    o.record->license_status = "";
    o.ttl_ms.reset();
    o.retry_at_ms.reset();
    o.candidates = nullptr;
    o.attempt_only = false;
    o.charged_lookups = -1;
    const Observation back = round_trip(o);
    expect_same(o, back);
    EXPECT_EQ(back.record->license_type, std::optional<std::string>(""));
    EXPECT_FALSE(back.record->business_name.has_value());
    EXPECT_FALSE(back.record->insurance_required.has_value());
    EXPECT_TRUE(back.record->disciplinary_actions.is_array());
    EXPECT_TRUE(back.record->address.is_null());
    EXPECT_TRUE(back.candidates.is_null());
    EXPECT_FALSE(back.ttl_ms.has_value());
    EXPECT_EQ(back.charged_lookups, -1);
}

TEST(ObservationCodec, EmptyCandidatesAreNotNull) {
    Observation o = full();
    o.candidates = json::array();
    EXPECT_TRUE(round_trip(o).candidates.is_array());
    o.candidates = json::object();
    EXPECT_TRUE(round_trip(o).candidates.is_object());
}

TEST(ObservationCodec, EmptyContainersInARecordStayContainers) {
    Observation o = full();
    o.record->address = json::object();
    o.record->disciplinary_actions = json::array();
    const Observation back = round_trip(o);
    ASSERT_TRUE(back.record->address.is_object());
    EXPECT_TRUE(back.record->address.empty());
    ASSERT_TRUE(back.record->disciplinary_actions.is_array());
    EXPECT_FALSE(back.record->has_disciplinary_actions());
}

TEST(ObservationCodec, AddressLeftToTheRawRecordBeside) {
    const Observation o = full();
    ASSERT_TRUE(o.record->address.is_object());
    const Observation back = round_trip(o, true);
    EXPECT_TRUE(back.record->address.is_null());
    Observation expected = o;
    expected.record->address = nullptr;
    expect_same(expected, back);
}

TEST(ObservationCodec, ErrorWithoutRecord) {
    Observation o;
    o.state = "TX";
    o.license_number = "9";
    o.outcome = outcome::kStateTimeout;
    o.http_status = 504;
    o.error_message = "state registry timed out \"x\"\n";
    o.retry_at_ms = 5;
    expect_same(o, round_trip(o));
    EXPECT_EQ(round_trip(o).request_kind, "single");
}

TEST(ObservationCodec, InsuranceRequiredTrue) {
    Observation o = full();
    o.record->insurance_required = true;
    EXPECT_EQ(round_trip(o).record->insurance_required, std::optional<bool>(true));
}

TEST(ObservationCodec, SeveralInOneBuffer) {
    Observation a = full(), b = full();
    b.id = "second";
    b.record.reset();
    std::string bytes;
    ByteWriter w(bytes);
    encode_observation(a, w);
    encode_observation(b, w);
    ByteReader r(bytes);
    expect_same(a, decode_observation(r));
    expect_same(b, decode_observation(r));
    EXPECT_TRUE(r.at_end());
}

TEST(ObservationCodec, EveryTruncationThrows) {
    const std::string bytes = encode(full());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        ByteReader r(bytes.data(), n);
        EXPECT_THROW(decode_observation(r), Error) << "prefix of " << n << " bytes";
    }
}

TEST(ObservationCodec, GarbledFlagThrows) {
    Observation o = full();
    o.record.reset();
    std::string bytes = encode(o);
    // The flag after the candidates says whether a record follows.
    std::string prefix;
    {
        ByteWriter w(prefix);
        w.str(o.id);
        w.str(o.state);
        w.str(o.license_number);
        w.str(o.name);
        w.str(o.outcome);
        w.i32(o.http_status);
        w.str(o.error_message);
    }
    ByteReader skip(bytes);
    skip.take(prefix.size());
    const std::size_t flag_at = prefix.size() + sizeof(std::uint32_t) + skip.u32();
    ASSERT_EQ(bytes[flag_at], 0);
    bytes[flag_at] = 7;
    ByteReader r(bytes);
    EXPECT_THROW(decode_observation(r), Error);
}

TEST(ObservationCodec, DateNotIsoThrows) {
    Observation o = full();
    o.record->issue_date = "2011-04-02T00:00:00Z";
    const std::string bytes = encode(o);
    ByteReader r(bytes);
    EXPECT_THROW(decode_observation(r), Error);
}

TEST(ObservationCodec, DeepCborRefused) {
    Observation o = full();
    o.candidates = nullptr;
    std::string bytes = encode(o);
    // Replace the (null) candidates with CBOR nested 100000 arrays deep.
    std::string prefix;
    {
        ByteWriter w(prefix);
        w.str(o.id);
        w.str(o.state);
        w.str(o.license_number);
        w.str(o.name);
        w.str(o.outcome);
        w.i32(o.http_status);
        w.str(o.error_message);
    }
    std::string deep(100000, '\x81');
    deep.push_back('\xf6');
    std::string garbled = prefix;
    ByteWriter w(garbled);
    w.str(deep);
    garbled.append(bytes, prefix.size() + sizeof(std::uint32_t), std::string::npos);
    ByteReader r(garbled);
    EXPECT_THROW(decode_observation(r), Error);
}

TEST(ObservationCodec, NestingJsonMaySendRoundTrips) {
    json v = "leaf";
    for (int i = 0; i < 60; ++i) v = json::array({v});
    Observation o = full();
    o.candidates = v;
    EXPECT_EQ(round_trip(o).candidates, v);
}

TEST(ObservationCodec, RandomBytesNeverCrash) {
    const std::string good = encode(full());
    std::mt19937 rng(42);
    for (int round = 0; round < 2000; ++round) {
        std::string bytes = good;
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
        ByteReader r(bytes);
        try {
            (void)decode_observation(r);
        } catch (const Error&) {
        }
    }
}

TEST(ObservationCodec, DeeperThanJsonMaySendRefused) {
    json v = "leaf";
    for (int i = 0; i < 70; ++i) v = json::array({v});
    Observation o = full();
    o.candidates = v;
    const std::string bytes = encode(o);
    ByteReader r(bytes);
    EXPECT_THROW(decode_observation(r), Error);
}
