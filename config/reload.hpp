// SPDX-License-Identifier: Apache-2.0
// What a configuration reload (SIGHUP) may change in a running server, and what needs a restart.
#pragma once

#include "config/model.hpp"

#include <string>
#include <vector>

namespace traverse::config {

/// The outcome of comparing the running configuration with a newly loaded one.
struct ReloadPlan {
    /// What the server runs with after the reload: the new file's live settings, with every
    /// restart-only setting kept at its running value.
    ServerConfig effective;
    /// Live keys whose value changes (schema names, e.g. "auth.users", "peers.allow").
    std::vector<std::string> applied;
    /// Keys that differ in the new file but only take effect after a restart.
    std::vector<std::string> restart_needed;
};

/// Compares `running` with `next` (both already validated). Pure: applies nothing.
ReloadPlan plan_reload(const ServerConfig& running, const ServerConfig& next);

} // namespace traverse::config
