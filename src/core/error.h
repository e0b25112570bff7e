#pragma once
#include "core/no_postgres.h"

#include <stdexcept>
#include <string>

namespace cv::core {

// What went wrong, independent of Postgres. The pg zone maps each kind to a
// SQLSTATE in one place (pg/guard.cpp).
enum class ErrorKind {
    InvalidParameter,   // bad argument from the caller
    InvalidOptionName,  // unknown FDW option, or one in the wrong place
    InvalidOptionValue, // FDW option value of the wrong type or out of range
    MissingConfig,      // no server / user mapping
    PermissionDenied,   // no USAGE on the server
    AuthRejected,       // the API refused the key (401/403)
    RemoteUnreachable,  // network errors after every retry
    RemoteFailure,      // 5xx / 429 after every retry, unexpected HTTP status
    RemoteProtocol,     // malformed, truncated or oversized response
    QuotaExceeded,      // monthly lookup cap would be crossed
    BudgetExceeded,     // a statement would send more lookups than its limit allows
    NotSupported,       // asked for something the API cannot do (list every license)
    ResourceExhausted,  // a fixed-size shared table is full (a setting sizes it)
    ReadOnly,           // an answer could not be stored: read-only transaction
    Prerequisite,       // needs something set up first (shared_preload_libraries)
    Aborted,            // query cancel / statement timeout / shutdown
    Internal,
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message, std::string hint = {},
          std::string detail = {})
        : std::runtime_error(message), kind_(kind), hint_(std::move(hint)),
          detail_(std::move(detail)) {}

    ErrorKind kind() const noexcept { return kind_; }
    const std::string& hint() const noexcept { return hint_; }
    const std::string& detail() const noexcept { return detail_; }

private:
    ErrorKind kind_;
    std::string hint_;
    std::string detail_;
};

}  // namespace cv::core
