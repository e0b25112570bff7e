// Recording observations: every one goes to the history; answers update the
// cache by the rules of core/cache_rules. The same code runs in the worker
// that records answers in transactions of its own, and (without the worker)
// in the caller's transaction.
#pragma once

#include "core/cache_rules.h"
#include "core/observation.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pg/cache_table.h"
#include "pg/catalog.h"

namespace cv::pg {

// Who asked, through which server, of which API with which key.
struct RecordingTarget {
    std::string server_name;
    std::string role_name;
    std::string api_url;     // canonical: the cache key's first part
    std::string api_key_id;  // a fingerprint, never the key
};

// What the one who recorded a chunk's answers saw of their licenses' cache rows.
enum class RowsSeen {
    Unknown,  // some may have had one, or it did not look
    // None had one when it looked them up: the answers are inserted without
    // looking for a row first. One that was recorded since is met by a
    // unique violation, and the upsert runs instead.
    None,
};

// The observations of one chunk (or one single lookup), grouped by the
// license they are about, each group folded over its cache row as it is now.
class ChunkRecording {
public:
    // The observations stay the caller's and must outlive the recording.
    // raw: each observation's raw record as jsonb (0 for none) when the
    // caller has them already; otherwise they are built from the observations.
    ChunkRecording(CacheReader& reader, const std::string& api_url,
                   const std::vector<core::Observation>& observations, std::vector<Datum> raw = {});
    ChunkRecording(const ChunkRecording&) = delete;
    ChunkRecording& operator=(const ChunkRecording&) = delete;

    const std::vector<core::Observation>& observations() const { return observations_; }

    // What recording does to the cache row of observation i's license, and the
    // row before (not found for observations that are not cached).
    const core::CacheUpdate& update_of(std::size_t i) const;
    const CachedRow& before_of(std::size_t i) const;

    // Observation i's raw record as jsonb (0 for none), and that of the
    // answer an update replaces a row with.
    Datum raw_of(std::size_t i) const { return raw_[i]; }
    Datum answer_raw(const core::CacheUpdate& u) const;

    // History rows and cache rows, in key order, in the current transaction,
    // as the extension's owner.
    void write(const ExtensionCatalog& catalog, const RecordingTarget& target,
               RowsSeen seen = RowsSeen::Unknown) const;

private:
    struct Group {
        CachedRow before;
        std::vector<std::size_t> members;
        core::CacheUpdate update;
    };
    const std::vector<core::Observation>& observations_;
    std::vector<Datum> raw_;
    std::map<std::pair<std::string, std::string>, Group> groups_;  // (state, license_number)
    std::vector<const Group*> group_of_;                           // per observation; may be null
};

}  // namespace cv::pg
