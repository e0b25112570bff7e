// SPI helpers: run statements as a given role, keep prepared plans, copy rows
// out of SPI memory.
#pragma once

#include <string>
#include <vector>

#include "pg/guard.h"

extern "C" {
#include "executor/spi.h"
}

namespace cv::pg {

// Runs as another role until destroyed (the caller's identity comes back even
// when an error unwinds through here).
class AsUser {
public:
    explicit AsUser(Oid user);
    ~AsUser();
    AsUser(const AsUser&) = delete;
    AsUser& operator=(const AsUser&) = delete;

private:
    Oid saved_user_ = InvalidOid;
    int saved_context_ = 0;
};

// SPI_connect, f, SPI_finish, as `user`. When f throws, the transaction's
// abort releases the connection.
template <typename F>
void with_spi(Oid user, F&& f);

// A plan prepared once per backend and kept across transactions.
SPIPlanPtr kept_plan(SPIPlanPtr& slot, const char* sql, int nargs, Oid* types);

// A text[] Datum of the strings.
Datum text_array(const std::vector<const std::string*>& items);

// A text Datum.
Datum text_datum(const std::string& s);

// Runs a plan (or, with plan == nullptr, the SQL text) and copies every row
// out of SPI memory: by-value columns as they are, by-reference ones into the
// caller's context. A NULL column comes back as 0.
std::vector<std::vector<Datum>> run_rows(SPIPlanPtr plan, Datum* values, const char* nulls,
                                         const std::vector<bool>& by_value);

// Executes SQL text with parameters; returns SPI_processed.
std::uint64_t execute(const std::string& sql, int nargs = 0, Oid* types = nullptr,
                      Datum* values = nullptr, const char* nulls = nullptr);

void spi_connect();
void spi_finish();

template <typename F>
void with_spi(Oid user, F&& f) {
    AsUser as(user);
    spi_connect();
    f();
    spi_finish();
}

}  // namespace cv::pg
