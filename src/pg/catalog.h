// Where the extension's own objects are, resolved by OID from the catalogs
// (never through anyone's search_path) and checked to belong to the installed
// extension of the version this library implements.
#pragma once

#include "pg/pg_headers.h"

extern "C" {
#include "access/attnum.h"
}

namespace cv::pg {

// Columns of contractor_verify.license_cache the library reads or writes.
enum CacheColumn : int {
    kCacheState,
    kCacheLicenseNumber,
    kCacheOutcome,
    kCacheLicenseStatus,
    kCacheLicenseType,
    kCacheClassifications,
    kCacheBusinessName,
    kCacheIssueDate,
    kCacheExpirationDate,
    kCacheBondAmountCents,
    kCacheInsuranceRequired,
    kCacheHasDisciplinaryActions,
    kCacheDisciplinaryActions,
    kCacheAddress,
    kCacheErrorCode,
    kCacheErrorMessage,
    kCacheRecord,
    kCacheServerName,
    kCacheFetchedAt,
    kCacheExpiresAt,
    kCacheLastAttemptAt,
    kCacheLastErrorCode,
    kCacheLastErrorMessage,
    kCacheConsecutiveTimeouts,
    kCacheNextAttemptAt,
    kCacheNeedsReview,
    kCacheReviewReason,
    kCacheApiUrl,
    kCacheColumnCount
};

struct ExtensionCatalog {
    Oid extension = InvalidOid;
    Oid data_schema = InvalidOid;  // contractor_verify, a member of the extension
    Oid owner = InvalidOid;        // owner of the extension's tables: whom storage runs as
    Oid cache = InvalidOid;        // contractor_verify.license_cache
    Oid cache_key = InvalidOid;    // its primary key (api_url, state, license_number)
    Oid history = InvalidOid;      // contractor_verify.verification_history
    Oid result_type = InvalidOid;  // @extschema@.cv_result, the functions' row type
    AttrNumber cache_att[kCacheColumnCount] = {};
};

// The catalog of the installed extension, cached until any of its relations
// changes. Throws Error(MissingConfig) with a hint when the extension is not
// installed, its schema is not its own, or its SQL objects are another
// version than this library (ALTER EXTENSION ... UPDATE not run yet).
const ExtensionCatalog& extension_catalog();

}  // namespace cv::pg
