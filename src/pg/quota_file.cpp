#include "pg/core_first.h"
#include "core/quota.h"
#include "core/quota_file.h"

#include <cerrno>
#include <ctime>

#include <fcntl.h>
#include <unistd.h>

#include "pg/quota_file.h"

#include "pg/guard.h"

extern "C" {
#include "storage/fd.h"
}

namespace cv::pg {

namespace {

// Relative to the data directory, a backend's working directory.
constexpr const char* kPath = "pg_contractor_verify_quota";
constexpr const char* kTempPath = "pg_contractor_verify_quota.tmp";
// Far more than a month's accounts take (about 45 bytes each).
constexpr std::size_t kMaxBytes = 16 * 1024 * 1024;

// What the file holds, or why it could not be used.
struct Saved {
    enum class State { Missing, Read, Unreadable } state = State::Missing;
    std::vector<core::QuotaCount> counts;
    int error = 0;       // Unreadable: the errno of a failed call, or 0
    std::string reason;  // Unreadable without errno: what is wrong with it
};

// Closes a file OpenTransientFile opened, however the scope is left.
class TransientFd {
public:
    TransientFd(const char* path, int flags) {
        pg_call([&] {
            fd_ = OpenTransientFile(path, flags | PG_BINARY);
            error_ = errno;
        });
    }
    ~TransientFd() {
        if (fd_ >= 0) CloseTransientFile(fd_);
    }
    TransientFd(const TransientFd&) = delete;
    TransientFd& operator=(const TransientFd&) = delete;

    int fd() const { return fd_; }
    int open_error() const { return error_; }
    // Closes now, reporting the result; 0 or -1 with errno set.
    int close() {
        const int fd = fd_;
        fd_ = -1;
        return pg_value([&] { return CloseTransientFile(fd); });
    }

private:
    int fd_ = -1;
    int error_ = 0;
};

Saved read_saved() {
    Saved out;
    std::string text;
    try {
        TransientFd file(kPath, O_RDONLY);
        if (file.fd() < 0) {
            if (file.open_error() == ENOENT) return out;
            out.state = Saved::State::Unreadable;
            out.error = file.open_error();
            return out;
        }
        char buf[8192];
        for (;;) {
            const ssize_t n = read(file.fd(), buf, sizeof buf);
            if (n < 0) {
                out.state = Saved::State::Unreadable;
                out.error = errno;
                return out;
            }
            if (n == 0) break;
            text.append(buf, static_cast<std::size_t>(n));
            if (text.size() > kMaxBytes) {
                out.state = Saved::State::Unreadable;
                out.reason = "it is larger than " + std::to_string(kMaxBytes) + " bytes";
                return out;
            }
        }
    } catch (const std::exception& e) {
        out.state = Saved::State::Unreadable;
        out.reason = e.what();
        return out;
    }
    try {
        out.counts = core::decode_quota_counts(text);
        out.state = Saved::State::Read;
    } catch (const core::QuotaFileInvalid& e) {
        out.state = Saved::State::Unreadable;
        out.reason = e.what();
    }
    return out;
}

// Every message about the file says what was being done.
void saving_context(void*) { errcontext("saving the monthly lookup counts of contractor_verify"); }

class SavingContext {
public:
    SavingContext() {
        callback_.callback = saving_context;
        callback_.arg = nullptr;
        callback_.previous = error_context_stack;
        error_context_stack = &callback_;
    }
    ~SavingContext() { error_context_stack = callback_.previous; }
    SavingContext(const SavingContext&) = delete;
    SavingContext& operator=(const SavingContext&) = delete;

private:
    ErrorContextCallback callback_;
};

void warn_unreadable(const Saved& saved, int elevel) {
    pg_call([&] {
        if (saved.error != 0) {
            errno = saved.error;
            ereport(elevel, (errcode_for_file_access(),
                              errmsg("could not read file \"%s\": %m", kPath),
                              errdetail("The lookup counts saved in it are ignored and the file is "
                                        "written anew.")));
        } else {
            ereport(elevel, (errcode(ERRCODE_DATA_CORRUPTED),
                              errmsg("ignoring file \"%s\": %s", kPath, saved.reason.c_str()),
                              errdetail("The lookup counts saved in it are ignored and the file is "
                                        "written anew.")));
        }
    });
}

// A failed call on `path`; errno is the call's.
void warn_failed(const char* what, const char* path, int error, int elevel) {
    pg_call([&] {
        errno = error;
        ereport(elevel, (errcode_for_file_access(), errmsg("could not %s file \"%s\": %m", what, path)));
    });
}

// Writes the temporary file and renames it over the file, durably. False
// (after a message at elevel) when any step fails.
bool write_file(const std::string& text, int elevel) {
    {
        TransientFd file(kTempPath, O_WRONLY | O_CREAT | O_TRUNC);
        if (file.fd() < 0) {
            warn_failed("create", kTempPath, file.open_error(), elevel);
            return false;
        }
        errno = 0;
        const ssize_t n = write(file.fd(), text.data(), text.size());
        if (n != static_cast<ssize_t>(text.size())) {
            // A short write without an error: the disk is full.
            warn_failed("write", kTempPath, errno != 0 ? errno : ENOSPC, elevel);
            return false;
        }
        if (pg_fsync(file.fd()) != 0) {
            warn_failed("fsync", kTempPath, errno, elevel);
            return false;
        }
        if (file.close() != 0) {
            warn_failed("close", kTempPath, errno, elevel);
            return false;
        }
    }
    // durable_rename says what failed, with the error, itself.
    return pg_value([&] { return durable_rename(kTempPath, kPath, elevel); }) == 0;
}

void warn_noexcept(const char* message, int elevel) noexcept {
    try {
        pg_call([&] {
            ereport(elevel, (errmsg("could not save the monthly lookup counts of contractor_verify: %s",
                                     message)));
        });
    } catch (...) {
    }
}

}  // namespace

std::int64_t saved_quota_count(std::uint64_t account, std::int32_t month, bool& unreadable) {
    const Saved saved = read_saved();
    unreadable = saved.state == Saved::State::Unreadable;
    return core::quota_count_of(saved.counts, account, month);
}

bool save_quota_counts(SharedState* s, std::uint64_t charge, int elevel) noexcept {
    std::string failure;
    try {
        std::vector<core::QuotaCount> live;
        live.reserve(static_cast<std::size_t>(s->key_slot_count));
        const std::int32_t month = core::utc_month(std::time(nullptr));
        SharedLock file_lock(s->quota_file_lock);
        std::uint64_t snapshot = 0;
        {
            SharedLock lock(s);
            if (charge != 0 && s->quota_charges_saved >= charge) return true;
            snapshot = s->quota_charges;
            for (int i = 0; i < s->key_slot_count; ++i) {
                const ApiKeySlot& slot = s->key_slots[i];
                if (slot.key_hash != 0 && slot.quota_month == month && slot.quota_used > 0)
                    live.push_back({slot.key_hash, month, slot.quota_used});
            }
        }
        SavingContext context;
        const Saved saved = read_saved();
        if (saved.state == Saved::State::Unreadable) warn_unreadable(saved, elevel);
        if (!write_file(core::encode_quota_counts(core::merge_quota_counts(saved.counts, live, month)),
                        elevel))
            return false;
        SharedLock lock(s);
        s->quota_charges_saved = std::max(s->quota_charges_saved, snapshot);
        return true;
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "unknown error";
    }
    warn_noexcept(failure.c_str(), elevel);
    return false;
}

}  // namespace cv::pg
