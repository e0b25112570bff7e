// Included first by every core header: the core zone is pure C++ and must
// never see Postgres headers (which redefine snprintf, bind, ...). A pg-zone
// file must include core headers before postgres.h.
// No include guard: the check runs at every inclusion.
#ifdef POSTGRES_H
#error "core headers must be included before postgres.h, and core code must not include it"
#endif
