// SPDX-License-Identifier: Apache-2.0
// The demo call page (demo/index.html), compiled into traverse-signal and served at /.
#pragma once

#include <string_view>

namespace traverse::signaling {

/// The page's HTML.
std::string_view demo_page() noexcept;

} // namespace traverse::signaling
