// Per-key call limit over a fixed (clock-aligned) or sliding window, answering
// how long until the next call would be admitted (the Retry-After).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace cvsim {

enum class WindowMode { Fixed, Sliding };

class RateLimiter {
public:
    using Clock = std::chrono::system_clock;

    void configure(int limit, std::chrono::milliseconds window, WindowMode mode) {
        std::lock_guard<std::mutex> lock(mu_);
        limit_ = limit;
        window_ = window;
        mode_ = mode;
        keys_.clear();
    }

    void reset() {
        std::lock_guard<std::mutex> lock(mu_);
        keys_.clear();
    }

    // Admits the call (and records it) or returns false with the seconds until
    // a call would be admitted, rounded up.
    bool admit(const std::string& key, Clock::time_point now, int& retry_after_s) {
        std::lock_guard<std::mutex> lock(mu_);
        if (limit_ <= 0) return true;
        auto& calls = keys_[key];
        std::chrono::milliseconds wait{0};
        if (mode_ == WindowMode::Fixed) {
            const auto since_epoch =
                std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
            const auto window_start = Clock::time_point(since_epoch - since_epoch % window_);
            while (!calls.empty() && calls.front() < window_start) calls.pop_front();
            if (static_cast<int>(calls.size()) >= limit_)
                wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                    window_start + window_ - now);
        } else {
            while (!calls.empty() && calls.front() <= now - window_) calls.pop_front();
            if (static_cast<int>(calls.size()) >= limit_)
                wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                    calls[calls.size() - static_cast<std::size_t>(limit_)] + window_ - now);
        }
        if (wait.count() > 0 || static_cast<int>(calls.size()) >= limit_) {
            retry_after_s = static_cast<int>((wait.count() + 999) / 1000);
            if (retry_after_s < 1) retry_after_s = 1;
            return false;
        }
        calls.push_back(now);
        return true;
    }

    int limit() const { return limit_; }
    std::chrono::milliseconds window() const { return window_; }
    WindowMode mode() const { return mode_; }

private:
    std::mutex mu_;
    int limit_ = 10;
    std::chrono::milliseconds window_{60000};
    WindowMode mode_ = WindowMode::Fixed;
    std::map<std::string, std::deque<Clock::time_point>> keys_;
};

}  // namespace cvsim
