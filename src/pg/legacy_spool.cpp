#include "pg/core_first.h"

#include "pg/legacy_spool.h"

#include <cstdio>

#include "pg/guard.h"
#include "pg/recorder_message.h"
#include "pg/worker_recording.h"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
}

namespace cv::pg {

namespace {

enum class Fate { Running, Committed, Lost, TooOld };

// The transaction id in a spool file's name.
bool parse_name(const char* name, TransactionId& xid) {
    unsigned long x = 0;
    int pid = 0;
    unsigned seq = 0;
    char tail[8] = {0};
    if (sscanf(name, "%lu-%d-%u.%6s", &x, &pid, &seq, tail) != 4) return false;
    if (std::string(tail) != "jsonl") return false;
    xid = static_cast<TransactionId>(x);
    return TransactionIdIsNormal(xid);
}

Fate fate_of(TransactionId xid) {
    return pg_value([&] {
        if (TransactionIdIsInProgress(xid)) return Fate::Running;
        if (TransactionIdPrecedes(xid, ShmemVariableCache->oldestClogXid)) return Fate::TooOld;
        return TransactionIdDidCommit(xid) ? Fate::Committed : Fate::Lost;
    });
}

std::string read_file(const std::string& path) {
    std::string out;
    pg_call([&] {
        const int fd = OpenTransientFile(path.c_str(), O_RDONLY | PG_BINARY);
        if (fd < 0)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not open file \"%s\": %m", path.c_str())));
        char buf[65536];
        for (;;) {
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0) {
                const int saved = errno;
                CloseTransientFile(fd);
                errno = saved;
                ereport(ERROR, (errcode_for_file_access(), errmsg("could not read file \"%s\": %m", path.c_str())));
            }
            if (n == 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        CloseTransientFile(fd);
    });
    return out;
}

// The canonical API URL of a server, as it is now (the default URL when it is gone).
std::string api_url_of(const std::string& server) {
    std::string url = "https://api.contractorverify.io/v1";
    const char* found = nullptr;
    begin();
    try {
        pg_call([&] {
        ForeignServer* s = GetForeignServerByName(server.c_str(), true);
        if (s == nullptr) return;
        ListCell* cell;
        foreach (cell, s->options) {
            DefElem* def = static_cast<DefElem*>(lfirst(cell));
            if (strcmp(def->defname, "url") == 0) found = pstrdup(defGetString(def));
        }
        });
        if (found != nullptr) url = found;
        commit();
    } catch (...) {
        abort_transaction();
    }
    try {
        return core::canonical_api_url(url);
    } catch (const core::Error&) {
        return core::canonical_api_url("https://api.contractorverify.io/v1");
    }
}

// One spool line: a chunk's observations, as 0.1.0 wrote them.
void import_line(const std::string& line, const std::string& file) {
    RecorderMessage m;
    std::optional<std::string> problem;
    try {
        const nlohmann::json doc = nlohmann::json::parse(line);
        m.target.server_name = doc.at("server").get<std::string>();
        m.target.role_name = doc.at("role").get<std::string>();
        for (const auto& o : doc.at("observations")) m.observations.push_back(core::Observation::from_legacy_json(o));
        m.raw.assign(m.observations.size(), 0);
    } catch (const std::exception& e) {
        problem = std::string("an unreadable line in version 0.1.0's spool file ") + file + ": " + e.what();
    }
    if (!problem) {
        m.target.api_url = api_url_of(m.target.server_name);
        problem = record(m);
        if (problem) problem = "a line of version 0.1.0's spool file " + file + " could not be recorded: " + *problem;
    }
    if (problem && !set_aside(line, problem->find("unreadable") != std::string::npos ? nullptr : &m, *problem))
        pg_call([&] {
            ereport(WARNING, (errmsg("contractor_verify could neither import nor set aside a line of %s: %s",
                                     file.c_str(), problem->c_str())));
        });
}

}  // namespace

void import_legacy_spool() {
    const std::string parent = std::string(DataDir) + "/pg_contractor_verify";
    const std::string dir = parent + "/" + std::to_string(MyDatabaseId);
    std::vector<std::string> names;
    pg_call([&] {
        DIR* d = AllocateDir(dir.c_str());
        if (d == nullptr) return;  // nothing was left (the usual case)
        struct dirent* e;
        while ((e = ReadDirExtended(d, dir.c_str(), LOG)) != nullptr)
            if (e->d_name[0] != '.') names.emplace_back(e->d_name);
        FreeDir(d);
    });
    bool everything_done = true;
    for (const auto& name : names) {
        const std::string path = dir + "/" + name;
        TransactionId xid = InvalidTransactionId;
        if (!parse_name(name.c_str(), xid)) {
            // Set aside by 0.1.0 (".stale") or foreign: kept for inspection, as it was.
            const std::string content = read_file(path);
            if (set_aside(content, nullptr, "a file left in version 0.1.0's spool directory: " + name))
                (void)unlink(path.c_str());
            else
                everything_done = false;
            continue;
        }
        switch (fate_of(xid)) {
            case Fate::Running:
                everything_done = false;
                continue;
            case Fate::Committed:
                break;  // its answers are in the tables
            case Fate::TooOld: {
                const std::string content = read_file(path);
                if (!set_aside(content, nullptr,
                               "version 0.1.0's spool file " + name +
                                   ": its transaction is too old to tell whether it committed")) {
                    everything_done = false;
                    continue;
                }
                break;
            }
            case Fate::Lost: {
                const std::string content = read_file(path);
                std::size_t start = 0;
                while (start < content.size()) {
                    std::size_t end = content.find('\n', start);
                    if (end == std::string::npos) end = content.size();
                    if (end > start) import_line(content.substr(start, end - start), name);
                    start = end + 1;
                }
                break;
            }
        }
        (void)unlink(path.c_str());
    }
    if (everything_done) {
        (void)rmdir(dir.c_str());
        (void)rmdir(parent.c_str());  // only when no other database left files
    }
}

}  // namespace cv::pg
