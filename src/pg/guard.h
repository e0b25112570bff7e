// The two guards between C++ and Postgres.
//
// guard(): wraps every function Postgres calls. A C++ exception is copied into
// plain storage, the catch block is left (so the exception object and every
// C++ frame are gone), and only then is ereport() raised.
//
// pg_call(): wraps Postgres functions called from C++ code that has live
// objects with destructors. A Postgres error is caught with PG_TRY, copied
// with CopyErrorData and rethrown as a C++ PgError; guard() re-raises it with
// its original SQLSTATE once the C++ frames have unwound.
#pragma once

#include "core/error.h"

#include <exception>
#include <type_traits>
#include <utility>

#include "pg/pg_headers.h"

namespace cv::pg {

// A Postgres error caught by pg_call; edata lives in the caller's memory context.
class PgError : public std::exception {
public:
    explicit PgError(ErrorData* edata) : edata_(edata) {}
    ErrorData* edata() const noexcept { return edata_; }
    const char* what() const noexcept override {
        return edata_ && edata_->message ? edata_->message : "postgres error";
    }

private:
    ErrorData* edata_;
};

// An error captured from an exception, in storage that needs no destructor.
struct CapturedError {
    bool set = false;
    core::ErrorKind kind = core::ErrorKind::Internal;
    ErrorData* pg = nullptr;
    char message[1024];
    char hint[1024];
    char detail[1024];
};

// The SQLSTATE an error kind is raised with.
int sqlstate_for(core::ErrorKind kind);

// Copies the current exception into err. Never throws.
void capture_exception(CapturedError& err, std::exception_ptr ep) noexcept;

// Raises err as a Postgres ERROR. Must be called outside any catch block.
[[noreturn]] void raise_captured(const CapturedError& err);

template <typename F>
auto guard(F&& f) -> decltype(f()) {
    CapturedError err;
    try {
        return f();
    } catch (...) {
        capture_exception(err, std::current_exception());
    }
    raise_captured(err);
}

// Runs Postgres code from C++; see the file comment. f must only call
// Postgres (a C++ exception escaping f is carried across PG_TRY and rethrown).
template <typename F>
void pg_call(F&& f) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile edata = nullptr;
    std::exception_ptr cpp_error;
    PG_TRY();
    {
        try {
            f();
        } catch (...) {
            cpp_error = std::current_exception();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (cpp_error) std::rethrow_exception(cpp_error);
    if (edata != nullptr) throw PgError(edata);
}

template <typename F>
auto pg_value(F&& f) -> decltype(f()) {
    static_assert(std::is_trivially_copyable_v<decltype(f())>,
                  "pg_value returns plain Postgres values only");
    decltype(f()) result{};
    pg_call([&] { result = f(); });
    return result;
}

// Throws Error(Aborted) when a cancel, statement timeout or termination is
// pending; used by C++ loops in place of CHECK_FOR_INTERRUPTS.
void throw_if_interrupted();
bool interrupt_pending() noexcept;

}  // namespace cv::pg
