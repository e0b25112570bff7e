// The baseline the benchmark compares against: a client doing the job the way
// the source documents' scripts do it -- read the roster, deduplicate on
// (state, license_number), send chunks of 100 one after another, then write
// every result with its own INSERT. With --cache it also keeps results in a
// cache table and looks each record up there first (the documents' Redis
// layer), one query per record.
//
//   cv_baseline_client --conninfo STR --url BASE --key KEY --roster TABLE
//                      --results TABLE [--cache TABLE]
// Prints "records=N lookups=N calls=N seconds=S".
#include <curl/curl.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using nlohmann::json;

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "cv_baseline_client: %s\n", m.c_str());
    std::exit(1);
}

PGresult* check(PGconn* c, PGresult* r, ExecStatusType want) {
    if (PQresultStatus(r) != want) die(PQerrorMessage(c));
    return r;
}

size_t collect(char* p, size_t s, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> a;
    for (int i = 1; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
    for (const char* k : {"--conninfo", "--url", "--key", "--roster", "--results"})
        if (!a.count(k)) die(std::string("missing ") + k);
    const bool use_cache = a.count("--cache") > 0;

    const auto t0 = std::chrono::steady_clock::now();
    PGconn* db = PQconnectdb(a["--conninfo"].c_str());
    if (PQstatus(db) != CONNECTION_OK) die(PQerrorMessage(db));

    // Read the roster and deduplicate on (state, license_number).
    PGresult* r = check(db, PQexec(db, ("SELECT id, state, license_no FROM " + a["--roster"]).c_str()),
                        PGRES_TUPLES_OK);
    std::vector<std::pair<std::string, std::pair<std::string, std::string>>> roster;
    std::set<std::pair<std::string, std::string>> seen;
    std::vector<std::pair<std::string, std::string>> unique;
    for (int i = 0; i < PQntuples(r); ++i) {
        auto key = std::make_pair(std::string(PQgetvalue(r, i, 1)), std::string(PQgetvalue(r, i, 2)));
        roster.push_back({PQgetvalue(r, i, 0), key});
        if (seen.insert(key).second) unique.push_back(key);
    }
    PQclear(r);

    std::map<std::pair<std::string, std::string>, json> answers;
    if (use_cache) {
        // One lookup per record, as a Redis GET would be.
        check(db, PQprepare(db, "get", ("SELECT payload FROM " + a["--cache"] +
                                        " WHERE state = $1 AND license_number = $2").c_str(), 2, nullptr),
              PGRES_COMMAND_OK);
        std::vector<std::pair<std::string, std::string>> misses;
        for (const auto& k : unique) {
            const char* v[2] = {k.first.c_str(), k.second.c_str()};
            PGresult* g = check(db, PQexecPrepared(db, "get", 2, v, nullptr, nullptr, 0), PGRES_TUPLES_OK);
            if (PQntuples(g) == 1)
                answers[k] = json::parse(PQgetvalue(g, 0, 0));
            else
                misses.push_back(k);
            PQclear(g);
        }
        unique = std::move(misses);
    }

    // Chunks of 100, one call after another.
    CURL* curl = curl_easy_init();
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, ("Authorization: Bearer " + a["--key"]).c_str());
    const std::string url = a["--url"] + "/verify/batch";
    int calls = 0;
    for (std::size_t start = 0; start < unique.size(); start += 100) {
        json requests = json::array();
        for (std::size_t i = start; i < std::min(unique.size(), start + 100); ++i)
            requests.push_back({{"id", std::to_string(i)},
                                {"state", unique[i].first},
                                {"license_number", unique[i].second}});
        const std::string body = json{{"requests", requests}}.dump();
        std::string response;
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
        if (curl_easy_perform(curl) != CURLE_OK) die("call failed");
        ++calls;
        const json parsed = json::parse(response);
        for (const auto& res : parsed["results"]) {
            const std::size_t i = std::stoul(res["id"].get<std::string>());
            answers[unique[i]] = res;
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);

    // Row-by-row inserts, each its own statement and transaction.
    check(db, PQprepare(db, "put", ("INSERT INTO " + a["--results"] +
                                    " (id, state, license_number, license_status, expiration_date, error_code)"
                                    " VALUES ($1, $2, $3, $4, $5::date, $6)").c_str(), 6, nullptr),
          PGRES_COMMAND_OK);
    if (use_cache)
        check(db, PQprepare(db, "cache", ("INSERT INTO " + a["--cache"] +
                                          " (state, license_number, payload) VALUES ($1, $2, $3::jsonb)"
                                          " ON CONFLICT DO NOTHING").c_str(), 3, nullptr),
              PGRES_COMMAND_OK);
    std::set<std::pair<std::string, std::string>> cached_now;
    for (const auto& [id, key] : roster) {
        const json& res = answers[key];
        const std::string status = res.value("license_status", "");
        const std::string expires = res.contains("expiration_date") && res["expiration_date"].is_string()
                                        ? res["expiration_date"].get<std::string>() : "";
        const std::string error = res.value("error_code", "");
        const char* v[6] = {id.c_str(), key.first.c_str(), key.second.c_str(),
                            status.empty() ? nullptr : status.c_str(),
                            expires.empty() ? nullptr : expires.c_str(),
                            error.empty() ? nullptr : error.c_str()};
        PQclear(check(db, PQexecPrepared(db, "put", 6, v, nullptr, nullptr, 0), PGRES_COMMAND_OK));
        if (use_cache && cached_now.insert(key).second) {
            const std::string payload = res.dump();
            const char* c[3] = {key.first.c_str(), key.second.c_str(), payload.c_str()};
            PQclear(check(db, PQexecPrepared(db, "cache", 3, c, nullptr, nullptr, 0), PGRES_COMMAND_OK));
        }
    }
    PQfinish(db);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("records=%zu lookups=%zu calls=%d seconds=%.3f\n", roster.size(), unique.size(), calls,
                seconds);
    return 0;
}
