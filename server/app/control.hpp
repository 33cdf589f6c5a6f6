// SPDX-License-Identifier: Apache-2.0
// The control socket: a Unix-domain socket that takes one command line per connection
// (`status`, `reload`, `drain`) and answers one line, for `traverse ctl` and service managers.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace traverse::app {

/// Answers commands on the control thread's io_context. The handler gets the command (trimmed)
/// and returns the answer line (without newline).
class ControlServer {
public:
    using Handler = std::function<std::string(std::string_view command)>;

    /// Binds `path` (replacing a stale socket file, refusing any other kind of file), mode 0600.
    /// Null with `error` set when it cannot.
    static std::unique_ptr<ControlServer> open(boost::asio::io_context& io, const std::string& path,
                                               Handler handler, std::string& error);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

private:
    ControlServer(boost::asio::io_context& io, std::string path, Handler handler);
    void accept();

    boost::asio::io_context& io_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::string path_;
    Handler handler_;
};

/// `traverse ctl [--socket PATH] COMMAND`: sends COMMAND, prints the answer; exit 0 when the
/// answer starts with "ok", 1 otherwise, 2 on usage errors or when the server cannot be reached.
int run_ctl_command(int argc, char** argv);

/// Switches to `user` (and `group`, or the user's primary group), dropping supplementary groups.
/// Returns an empty string on success, else the reason.
std::string drop_privileges(const std::string& user, const std::string& group);

} // namespace traverse::app
