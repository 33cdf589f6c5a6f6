// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the config tests: temporary directories and diagnostic lookups.
#pragma once

#include "config/load.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace traverse::config::test {

/// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("traverse-config-test-" + std::to_string(::getpid()) + "-" +
                 std::to_string(counter++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// The directory.
    const std::filesystem::path& path() const { return path_; }

    /// Writes `text` to `relative` (creating parent directories); returns the full path.
    std::string write(const std::string& relative, std::string_view text) const {
        const std::filesystem::path file = path_ / relative;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream{file} << text;
        return file.string();
    }

private:
    std::filesystem::path path_;
};

/// Every diagnostic rendered, one per line, for failure messages.
inline std::string render(const LoadResult& result) {
    std::string text;
    for (const Diagnostic& d : result.errors)
        text += to_string(d) + "\n";
    return text;
}

/// The diagnostic at `path` whose message contains `fragment`, or nullptr.
inline const Diagnostic* find_error(const LoadResult& result, std::string_view path,
                                    std::string_view fragment = "") {
    for (const Diagnostic& d : result.errors) {
        if (d.path == path && d.message.find(fragment) != std::string::npos) return &d;
    }
    return nullptr;
}

} // namespace traverse::config::test
