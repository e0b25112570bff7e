// Keeping a secret out of what the API sends back: a response that echoes the
// API key (an error detail quoting the Authorization header, say) would
// otherwise carry it into the cache and history, which other roles read.
#pragma once
#include "core/no_postgres.h"

#include <cstddef>
#include <string>

namespace cv::core {

// What an occurrence of the secret becomes.
inline constexpr const char* kRedacted = "[redacted]";

// Secrets shorter than this are not searched for: replacing every occurrence
// of a few characters would corrupt the text around them.
inline constexpr std::size_t kMinRedactedLength = 8;

// A body cut short that ends in this much of the secret, or more, has
// that beginning replaced too.
inline constexpr std::size_t kMinRedactedPrefix = 4;

// Replaces every occurrence of `secret` in `text` with kRedacted; returns how
// many it replaced (0 for a secret shorter than kMinRedactedLength). In a
// JSON text, each string is searched as it reads once decoded (escapes
// spelling the secret are replaced whole; numbers and structure are never
// touched); other text (an error page, a body cut short) as it is written,
// its end also for a beginning of the secret.
std::size_t redact(std::string& text, const std::string& secret);

}  // namespace cv::core
