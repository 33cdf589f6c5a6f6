// SPDX-License-Identifier: Apache-2.0
// `traverse cred`: mint TURN REST API credentials and an ICE-servers JSON snippet.
#pragma once

namespace traverse::app {

/// Runs `traverse cred ...` (argv[0] is "cred"); returns the process exit status.
int run_cred_command(int argc, char** argv);

} // namespace traverse::app
