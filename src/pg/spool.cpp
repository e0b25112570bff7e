#include "core/error.h"
#include "core/freshness.h"
#include "core/observation.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg/recorder.h"
#include "pg/guard.h"
#include "pg/spool.h"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "storage/procarray.h"
}

namespace cv::pg {

namespace {

// Spool files of this backend's open transaction, deleted at commit. A file
// belongs to the (sub)transaction nesting level that wrote or claimed it.
struct Entry {
    std::string path;
    TransactionId xid;
    int level;
};
std::vector<Entry> entries;
unsigned sequence = 0;
bool warned = false;

std::string spool_dir() {
    return std::string(DataDir) + "/pg_contractor_verify/" + std::to_string(MyDatabaseId);
}

bool ensure_dir(const std::string& dir) {
    const std::string parent = dir.substr(0, dir.rfind('/'));
    if (mkdir(parent.c_str(), S_IRWXU) != 0 && errno != EEXIST) return false;
    return mkdir(dir.c_str(), S_IRWXU) == 0 || errno == EEXIST;
}

std::string new_path(TransactionId xid) {
    return spool_dir() + "/" + std::to_string(xid) + "-" + std::to_string(MyProcPid) + "-" +
           std::to_string(++sequence) + ".jsonl";
}

void warn(const std::string& what) {
    if (warned) return;
    warned = true;
    const int saved = errno;
    pg_call([&] {
        errno = saved;
        ereport(WARNING, (errcode_for_file_access(),
                          errmsg("contractor_verify could not %s: %m", what.c_str()),
                          errdetail("Answers of a transaction that does not commit may be lost.")));
    });
}

void on_xact(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
            for (const auto& e : entries) unlink(e.path.c_str());
            entries.clear();
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            // Kept on disk: recovered by the next lookup (or, once a prepared
            // transaction commits, found committed and removed).
            entries.clear();
            break;
        default:
            break;
    }
}

void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    const int level = GetCurrentTransactionNestLevel();
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        // Rolled back with the subtransaction: keep the files for recovery.
        std::vector<Entry> kept;
        for (auto& e : entries)
            if (e.level < level) kept.push_back(std::move(e));
        entries.swap(kept);
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (auto& e : entries)
            if (e.level >= level) e.level = level - 1;
    }
}

// The transaction id in a spool file's name ("<xid>-<pid>-<seq>.jsonl").
bool parse_name(const char* name, TransactionId& xid) {
    unsigned long x = 0;
    int pid = 0;
    unsigned seq = 0;
    char tail[8] = {0};
    if (std::sscanf(name, "%lu-%d-%u.%6s", &x, &pid, &seq, tail) != 4) return false;
    if (std::string(tail) != "jsonl") return false;
    xid = static_cast<TransactionId>(x);
    return TransactionIdIsNormal(xid);
}

enum class Fate { Running, Committed, Lost, TooOld };

Fate fate_of(TransactionId xid) {
    return pg_value([&] {
        if (TransactionIdIsCurrentTransactionId(xid) || TransactionIdIsInProgress(xid))
            return Fate::Running;
        if (TransactionIdPrecedes(xid, ShmemVariableCache->oldestClogXid)) return Fate::TooOld;
        return TransactionIdDidCommit(xid) ? Fate::Committed : Fate::Lost;
    });
}

std::string read_file(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return out;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

}  // namespace

void spool_init() {
    RegisterXactCallback(on_xact, nullptr);
    RegisterSubXactCallback(on_subxact, nullptr);
}

void spool_append(const std::string& document) {
    const TransactionId xid = pg_value([] { return GetCurrentTransactionId(); });
    const int level = pg_value([] { return GetCurrentTransactionNestLevel(); });
    std::string path;
    for (const auto& e : entries)
        if (e.xid == xid && e.level == level) path = e.path;
    if (path.empty()) {
        if (!ensure_dir(spool_dir())) return warn("create its spool directory");
        path = new_path(xid);
        entries.push_back({path, xid, level});
    }
    const std::string text = document + "\n";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, S_IRUSR | S_IWUSR);
    if (fd < 0) return warn("open a spool file");
    const ssize_t written = write(fd, text.data(), text.size());
    close(fd);
    if (written != static_cast<ssize_t>(text.size())) warn("write a spool file");
}

std::int64_t spool_recover(const ExtensionCatalog& catalog) {
    if (XactReadOnly) return 0;
    const std::string dir = spool_dir();
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return 0;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
    closedir(d);

    std::int64_t recovered = 0;
    for (const auto& name : names) {
        TransactionId xid = InvalidTransactionId;
        if (!parse_name(name.c_str(), xid)) continue;
        const std::string path = dir + "/" + name;
        switch (fate_of(xid)) {
            case Fate::Running:
                continue;
            case Fate::Committed:
                unlink(path.c_str());  // its answers are in the tables
                continue;
            case Fate::TooOld:
                rename(path.c_str(), (path + ".stale").c_str());
                pg_call([&] {
                    ereport(WARNING, (errmsg("contractor_verify set aside spool file \"%s\": its "
                                             "transaction is too old to tell whether it committed",
                                             path.c_str())));
                });
                continue;
            case Fate::Lost:
                break;
        }
        // Claim it: the rename makes it ours (a concurrent recoverer gets ENOENT).
        const TransactionId mine = pg_value([] { return GetCurrentTransactionId(); });
        const int level = pg_value([] { return GetCurrentTransactionNestLevel(); });
        const std::string claimed = new_path(mine);
        if (rename(path.c_str(), claimed.c_str()) != 0) continue;
        entries.push_back({claimed, mine, level});

        const std::string content = read_file(claimed);
        std::size_t start = 0;
        while (start < content.size()) {
            std::size_t end = content.find('\n', start);
            if (end == std::string::npos) end = content.size();
            const nlohmann::json doc = nlohmann::json::parse(content.substr(start, end - start), nullptr, false);
            start = end + 1;
            if (!doc.is_object() || !doc.contains("observations")) continue;
            RecordingTarget target;
            target.server_name = doc.value("server_name", "");
            target.role_name = doc.value("role_name", "");
            target.api_url = doc.value("api_url", "");
            target.api_key_id = doc.value("api_key_id", "");
            std::vector<core::Observation> observations;
            for (const auto& o : doc["observations"]) observations.push_back(core::Observation::from_json(o));
            CacheReader reader(catalog);
            ChunkRecording recording(reader, target.api_url, std::move(observations));
            recording.write(catalog, target);
            for (const auto& o : recording.observations()) recovered += o.attempt_only ? 0 : 1;
        }
    }
    return recovered;
}

}  // namespace cv::pg
