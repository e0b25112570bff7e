// The cache rules: freshness, pending STATE_TIMEOUT retries, which key an
// answer is kept under, and what recording does to a row.
#include "core/cache_rules.h"

#include <gtest/gtest.h>

using namespace cv::core;

namespace {

constexpr std::int64_t kHour = 3600 * 1000;

Observation verified(std::int64_t at, const std::string& number = "1052183") {
    Observation o;
    o.state = "CA";
    o.license_number = number;
    o.outcome = outcome::kVerified;
    o.record = LicenseRecord{};
    o.record->license_number = number;
    o.record->license_status = "ACTIVE";
    o.observed_at_ms = at;
    o.ttl_ms = 24 * kHour;
    return o;
}

Observation error(const char* code, std::int64_t at, std::optional<std::int64_t> ttl = kHour) {
    Observation o;
    o.state = "CA";
    o.license_number = "1052183";
    o.outcome = code;
    o.error_message = std::string(code) + " detail";
    o.observed_at_ms = at;
    o.ttl_ms = ttl;
    return o;
}

Observation timeout(std::int64_t at) {
    Observation o = error(outcome::kStateTimeout, at, std::nullopt);
    o.retry_at_ms = at + 5 * kHour;
    return o;
}

// A reading server with the default TTLs (24 h, 4 h, 1 h).
const ServerSettings kTtls = ServerSettings::from_options({});

CacheUpdate fold(const CacheHead& before, std::vector<Observation>& obs) {
    std::vector<const Observation*> p;
    for (auto& o : obs) p.push_back(&o);
    return fold_observations(before, p, 3);
}

}  // namespace

TEST(CacheRules, FreshnessAndMaxAge) {
    std::vector<Observation> obs{verified(1000)};
    const CacheHead row = fold({}, obs).after;
    EXPECT_EQ(classify_cached(row, 2000, kTtls, std::nullopt), CacheVerdict::Fresh);
    EXPECT_EQ(classify_cached(row, 1000 + 24 * kHour, kTtls, std::nullopt), CacheVerdict::Miss);
    EXPECT_EQ(classify_cached(row, 2000, kTtls, 5000), CacheVerdict::Fresh);
    EXPECT_EQ(classify_cached(row, 7000, kTtls, 5000), CacheVerdict::Miss);
    EXPECT_EQ(classify_cached(row, 2000, kTtls, 0), CacheVerdict::Miss);
    EXPECT_EQ(classify_cached(CacheHead{}, 2000, kTtls, std::nullopt), CacheVerdict::Miss);
}

TEST(CacheRules, StateTimeoutIsNotRetriedBeforeItsTime) {
    std::vector<Observation> obs{timeout(1000)};
    const CacheHead row = fold({}, obs).after;
    EXPECT_FALSE(row.answered());
    EXPECT_EQ(classify_cached(row, 2000, kTtls, std::nullopt), CacheVerdict::TimeoutPending);
    EXPECT_EQ(classify_cached(row, 2000, kTtls, kHour), CacheVerdict::TimeoutPending);
    EXPECT_EQ(classify_cached(row, 2000, kTtls, 0), CacheVerdict::Miss);  // forced
    EXPECT_EQ(classify_cached(row, 1000 + 5 * kHour, kTtls, std::nullopt), CacheVerdict::Miss);  // due
}

TEST(CacheRules, FreshVerifiedDataWinsOverAPendingTimeout) {
    std::vector<Observation> obs{verified(1000), timeout(2000)};
    obs[0].ttl_ms = kHour;
    const CacheUpdate u = fold({}, obs);
    EXPECT_EQ(u.kind, CacheUpdate::Kind::Replace);
    EXPECT_EQ(classify_cached(u.after, 3000, kTtls, std::nullopt), CacheVerdict::Fresh);
    EXPECT_EQ(classify_cached(u.after, 1000 + 2 * kHour, kTtls, std::nullopt), CacheVerdict::TimeoutPending);
    EXPECT_EQ(classify_cached(u.after, 2000 + 5 * kHour, kTtls, std::nullopt), CacheVerdict::Miss);
}

TEST(CacheRules, KeyIsTheRequestedNumber) {
    Observation o = verified(1000);
    o.record->license_number = "1-052-183";  // echoed in another format
    EXPECT_EQ(cache_license_number(o), "1052183");
    Observation by_name = verified(1000);
    by_name.license_number.clear();
    by_name.name = "Pacific Electric";
    by_name.record->license_number = " c-105 ";
    EXPECT_EQ(cache_license_number(by_name), "C-105");
    Observation candidates = error(outcome::kMultipleCandidates, 1000, std::nullopt);
    candidates.license_number.clear();
    EXPECT_EQ(cache_license_number(candidates), std::nullopt);
}

TEST(CacheRules, VerifiedReplacesUnlessOlder) {
    std::vector<Observation> first{verified(5000)};
    const CacheHead row = fold({}, first).after;
    std::vector<Observation> older{verified(4000)};
    EXPECT_EQ(fold(row, older).kind, CacheUpdate::Kind::None);
    std::vector<Observation> newer{verified(6000)};
    const CacheUpdate u = fold(row, newer);
    EXPECT_EQ(u.kind, CacheUpdate::Kind::Replace);
    EXPECT_EQ(u.answer, &newer[0]);
    EXPECT_EQ(u.after.fetched_at_ms, 6000);
}

TEST(CacheRules, AnErrorNeverOverwritesAVerifiedRecord) {
    std::vector<Observation> first{verified(1000)};
    const CacheHead row = fold({}, first).after;
    std::vector<Observation> nf{error(outcome::kNotFound, 2000)};
    const CacheUpdate u = fold(row, nf);
    EXPECT_EQ(u.kind, CacheUpdate::Kind::NoteAttempt);
    EXPECT_EQ(u.after.outcome, outcome::kVerified);
    EXPECT_EQ(u.after.fetched_at_ms, 1000);
    EXPECT_EQ(u.attempt.last_error_code, outcome::kNotFound);
    EXPECT_TRUE(u.attempt.needs_review);
    EXPECT_EQ(u.attempt.review_reason, "NOT_FOUND after a verified record");
    EXPECT_TRUE(result_from_cache(u.after, nf[0]));

    std::vector<Observation> bad{error(outcome::kInvalidStateFormat, 2000)};
    const CacheUpdate v = fold(row, bad);
    EXPECT_EQ(v.kind, CacheUpdate::Kind::NoteAttempt);
    EXPECT_FALSE(v.attempt.needs_review);
}

TEST(CacheRules, NotFoundIsCachedAndAsksForReview) {
    std::vector<Observation> nf{error(outcome::kNotFound, 2000)};
    const CacheUpdate u = fold({}, nf);
    EXPECT_EQ(u.kind, CacheUpdate::Kind::Replace);
    EXPECT_EQ(u.after.outcome, outcome::kNotFound);
    EXPECT_EQ(u.after.expires_at_ms, 2000 + kHour);
    EXPECT_TRUE(u.attempt.needs_review);
    EXPECT_FALSE(result_from_cache(u.after, nf[0]));
    // A later verified record clears it.
    std::vector<Observation> ok{verified(3000)};
    const CacheUpdate v = fold(u.after, ok);
    EXPECT_EQ(v.kind, CacheUpdate::Kind::Replace);
    EXPECT_FALSE(v.attempt.needs_review);
    EXPECT_TRUE(v.attempt.last_error_code.empty());
}

TEST(CacheRules, AWrongFormatIsCachedAndAsksForReview) {
    std::vector<Observation> bad{error(outcome::kInvalidStateFormat, 2000)};
    const CacheUpdate u = fold({}, bad);
    EXPECT_EQ(u.kind, CacheUpdate::Kind::Replace);
    EXPECT_TRUE(u.attempt.needs_review);
    EXPECT_EQ(u.attempt.review_reason, outcome::kInvalidStateFormat);
}

TEST(CacheRules, ThreeTimeoutsInARowAskForReview) {
    CacheHead row;
    for (int i = 1; i <= 3; ++i) {
        std::vector<Observation> t{timeout(i * 1000)};
        const CacheUpdate u = fold(row, t);
        EXPECT_EQ(u.kind, CacheUpdate::Kind::NoteAttempt);
        EXPECT_EQ(u.attempt.consecutive_timeouts, i);
        EXPECT_EQ(u.attempt.next_attempt_at_ms, i * 1000 + 5 * kHour);
        EXPECT_EQ(u.attempt.needs_review, i == 3);
        row = u.after;
    }
    EXPECT_EQ(row.attempt.review_reason, "STATE_TIMEOUT 3 times in a row");
    // Verified data resets the count.
    std::vector<Observation> ok{verified(10000)};
    EXPECT_EQ(fold(row, ok).attempt.consecutive_timeouts, 0);
}

TEST(CacheRules, OtherOutcomesLeaveTheRowAlone) {
    for (const char* code : {outcome::kMultipleCandidates, "CALL_FAILED", "MISSING_RESULT", "INVALID_REQUEST"}) {
        std::vector<Observation> o{error(code, 1000, std::nullopt)};
        EXPECT_EQ(fold({}, o).kind, CacheUpdate::Kind::None) << code;
    }
    std::vector<Observation> attempt{verified(1000)};
    attempt[0].attempt_only = true;
    EXPECT_EQ(fold({}, attempt).kind, CacheUpdate::Kind::None);
}

TEST(CacheRules, SeveralObservationsFoldInOrder) {
    std::vector<Observation> obs{error(outcome::kNotFound, 1000), verified(2000), timeout(3000)};
    const CacheUpdate u = fold({}, obs);
    EXPECT_EQ(u.kind, CacheUpdate::Kind::Replace);
    EXPECT_EQ(u.answer, &obs[1]);
    EXPECT_EQ(u.attempt.consecutive_timeouts, 1);
    EXPECT_EQ(u.attempt.last_error_code, outcome::kStateTimeout);
    EXPECT_FALSE(u.attempt.needs_review);
}

TEST(CacheRules, AnAnswerBoughtWhileWaitingServesAnyMaxAge) {
    std::vector<Observation> obs{verified(5000)};
    const CacheHead row = fold({}, obs).after;
    EXPECT_EQ(classify_cached(row, 6000, kTtls, 0), CacheVerdict::Miss);
    EXPECT_EQ(classify_cached(row, 6000, kTtls, 0, 4000), CacheVerdict::Fresh);
    EXPECT_EQ(classify_cached(row, 6000, kTtls, 0, 5500), CacheVerdict::Miss);  // older than the wait
    EXPECT_EQ(classify_cached(row, 6000, kTtls, 0, 5000), CacheVerdict::Miss);  // the same millisecond
    std::vector<Observation> t{timeout(5000)};
    EXPECT_EQ(classify_cached(fold({}, t).after, 6000, kTtls, 0, 4000), CacheVerdict::TimeoutPending);
}

TEST(CacheRules, TheReadersTtlBoundsWhatAWriterClaims) {
    std::vector<Observation> obs{verified(1000)};
    obs[0].ttl_ms = 365LL * 24 * kHour;  // written through a server with a year's TTL
    const CacheHead row = fold({}, obs).after;
    EXPECT_EQ(classify_cached(row, 1000 + 23 * kHour, kTtls, std::nullopt), CacheVerdict::Fresh);
    EXPECT_EQ(classify_cached(row, 1000 + 25 * kHour, kTtls, std::nullopt), CacheVerdict::Miss);
    ServerSettings patient = kTtls;
    patient.cache_ttl = std::chrono::hours(48);
    EXPECT_EQ(classify_cached(row, 1000 + 25 * kHour, patient, std::nullopt), CacheVerdict::Fresh);
    // A flagged record: the flagged TTL (4 h).
    std::vector<Observation> susp{verified(1000)};
    susp[0].record->license_status = "SUSPENDED";
    susp[0].ttl_ms = 365LL * 24 * kHour;
    EXPECT_EQ(classify_cached(fold({}, susp).after, 1000 + 5 * kHour, kTtls, std::nullopt), CacheVerdict::Miss);
}

TEST(LegacySpool, ObservationsOf010ReadBack) {
    const auto doc = nlohmann::json::parse(R"({
        "id": "3", "state": "CA", "license_number": "1-052-183", "requested_license_number": "1052183",
        "name": null, "outcome": "VERIFIED", "http_status": 200, "error_code": null, "error_message": null,
        "candidates": null, "raw": {"license_number": "1-052-183", "license_status": "Active"},
        "observed_at_ms": 1700000000000, "ttl_ms": 86400000, "retry_at_ms": null, "batch_id": "b1",
        "request_kind": "batch", "attempt_only": false, "billable": true,
        "record": {"license_status": "ACTIVE", "license_type": "C-10", "classifications": ["C-10"],
                   "business_name": "Pacific", "issue_date": null, "expiration_date": "2027-02-28",
                   "bond_amount_cents": 100, "insurance_required": true, "has_disciplinary_actions": false,
                   "disciplinary_actions": [], "address": null}})");
    const Observation o = Observation::from_legacy_json(doc);
    EXPECT_EQ(o.license_number, "1052183");  // the requested number keys the cache
    EXPECT_TRUE(o.verified());
    ASSERT_TRUE(o.record);
    EXPECT_EQ(o.record->license_number, "1-052-183");
    EXPECT_EQ(o.record->expiration_date, "2027-02-28");
    EXPECT_EQ(o.charged(), 1);
    EXPECT_EQ(o.ttl_ms, 86400000);
    EXPECT_EQ(cache_license_number(o), "1052183");
    EXPECT_THROW(Observation::from_legacy_json(nlohmann::json::parse(R"({"id": "x"})")), std::exception);
    EXPECT_THROW(Observation::from_legacy_json(nlohmann::json::parse("[1]")), std::exception);
}
