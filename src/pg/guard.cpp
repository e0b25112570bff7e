#include "pg/core_first.h"
#include "pg/guard.h"

#include <cstring>
#include <new>

extern "C" {
#include "utils/errcodes.h"
}

namespace cv::pg {

namespace {

void copy_text(char* dst, std::size_t size, const char* src) noexcept {
    if (src == nullptr) src = "";
    std::size_t n = std::strlen(src);
    if (n >= size) n = size - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

}  // namespace

void capture_exception(CapturedError& err, std::exception_ptr ep) noexcept {
    err.set = true;
    err.message[0] = err.hint[0] = err.detail[0] = '\0';
    try {
        std::rethrow_exception(ep);
    } catch (const PgError& e) {
        err.pg = e.edata();
    } catch (const core::Error& e) {
        err.kind = e.kind();
        copy_text(err.message, sizeof err.message, e.what());
        copy_text(err.hint, sizeof err.hint, e.hint().c_str());
        copy_text(err.detail, sizeof err.detail, e.detail().c_str());
    } catch (const std::bad_alloc&) {
        err.kind = core::ErrorKind::Internal;
        copy_text(err.message, sizeof err.message, "out of memory in contractor_verify");
    } catch (const std::exception& e) {
        err.kind = core::ErrorKind::Internal;
        copy_text(err.message, sizeof err.message, e.what());
    } catch (...) {
        err.kind = core::ErrorKind::Internal;
        copy_text(err.message, sizeof err.message, "unknown C++ exception in contractor_verify");
    }
}

void raise_captured(const CapturedError& err) {
    if (err.pg != nullptr) ReThrowError(err.pg);
    if (err.kind == core::ErrorKind::Aborted) {
        // Let Postgres report the real reason (cancel, statement_timeout,
        // termination) with its own message.
        CHECK_FOR_INTERRUPTS();
    }
    ereport(ERROR, (errcode(sqlstate_for(err.kind)), errmsg("%s", err.message),
                    err.detail[0] ? errdetail("%s", err.detail) : 0,
                    err.hint[0] ? errhint("%s", err.hint) : 0));
    pg_unreachable();
}

int sqlstate_for(core::ErrorKind kind) {
    using core::ErrorKind;
    switch (kind) {
        case ErrorKind::InvalidParameter:
            return ERRCODE_INVALID_PARAMETER_VALUE;
        case ErrorKind::InvalidOptionName:
            return ERRCODE_FDW_INVALID_OPTION_NAME;
        case ErrorKind::InvalidOptionValue:
            return ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
        case ErrorKind::MissingConfig:
            return ERRCODE_UNDEFINED_OBJECT;
        case ErrorKind::PermissionDenied:
            return ERRCODE_INSUFFICIENT_PRIVILEGE;
        case ErrorKind::AuthRejected:
            return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
        case ErrorKind::RemoteUnreachable:
            return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
        case ErrorKind::RemoteFailure:
            return ERRCODE_FDW_ERROR;
        case ErrorKind::RemoteProtocol:
            return ERRCODE_PROTOCOL_VIOLATION;
        case ErrorKind::ResourceExhausted:
            return ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
        case ErrorKind::QuotaExceeded:
        case ErrorKind::BudgetExceeded:
            return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
        case ErrorKind::NotSupported:
            return ERRCODE_FEATURE_NOT_SUPPORTED;
        case ErrorKind::ReadOnly:
            return ERRCODE_READ_ONLY_SQL_TRANSACTION;
        case ErrorKind::Prerequisite:
            return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
        case ErrorKind::Aborted:
            return ERRCODE_QUERY_CANCELED;
        case ErrorKind::Internal:
            break;
    }
    return ERRCODE_INTERNAL_ERROR;
}

bool interrupt_pending() noexcept {
    return QueryCancelPending || ProcDiePending;
}

void throw_if_interrupted() {
    if (interrupt_pending())
        throw core::Error(core::ErrorKind::Aborted, "canceling statement due to user request");
}

}  // namespace cv::pg
