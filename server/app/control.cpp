// SPDX-License-Identifier: Apache-2.0
// Control socket server and client, and the privilege drop after binding.
#include "server/app/control.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace traverse::app {
namespace {

using boost::asio::local::stream_protocol;

constexpr std::size_t max_command_bytes = 256;
constexpr auto session_timeout = std::chrono::seconds(2);
constexpr const char* default_socket = "/run/traverse/control.sock";

/// One connection: read a line (bounded in size and time), answer, close.
struct Session : std::enable_shared_from_this<Session> {
    Session(boost::asio::io_context& io, stream_protocol::socket s, const ControlServer::Handler& h)
        : socket(std::move(s)), timer(io), buffer(max_command_bytes), handler(h) {}

    void start() {
        timer.expires_after(session_timeout);
        timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (!ec) self->socket.close();
        });
        boost::asio::async_read_until(
            socket, buffer, '\n',
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                self->on_line(ec, n);
            });
    }

    void on_line(boost::system::error_code ec, std::size_t n) {
        if (ec) {
            // Too long (no newline within the limit) or closed without one.
            if (ec == boost::asio::error::not_found)
                answer("error: command too long");
            else
                timer.cancel();
            return;
        }
        std::string line(boost::asio::buffers_begin(buffer.data()),
                         boost::asio::buffers_begin(buffer.data()) +
                             static_cast<std::ptrdiff_t>(n));
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        answer(handler(line));
    }

    void answer(std::string text) {
        reply = std::move(text) + "\n";
        boost::asio::async_write(
            socket, boost::asio::buffer(reply),
            [self = shared_from_this()](boost::system::error_code, std::size_t) {
                self->timer.cancel();
                boost::system::error_code ignored;
                self->socket.close(ignored);
            });
    }

    stream_protocol::socket socket;
    boost::asio::steady_timer timer;
    boost::asio::streambuf buffer;
    const ControlServer::Handler& handler;
    std::string reply;
};

} // namespace

ControlServer::ControlServer(boost::asio::io_context& io, std::string path, Handler handler)
    : io_(io), acceptor_(io), path_(std::move(path)), handler_(std::move(handler)) {}

std::unique_ptr<ControlServer> ControlServer::open(boost::asio::io_context& io,
                                                   const std::string& path, Handler handler,
                                                   std::string& error) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = "server.control_socket: " + path + " exists and is not a socket";
            return nullptr;
        }
        ::unlink(path.c_str()); // stale socket from an earlier run
    }
    std::unique_ptr<ControlServer> server(new ControlServer(io, path, std::move(handler)));
    boost::system::error_code ec;
    const mode_t old_mask = ::umask(0177); // the socket file is created 0600
    server->acceptor_.open(stream_protocol(), ec);
    if (!ec) server->acceptor_.bind(stream_protocol::endpoint(path), ec);
    if (!ec) server->acceptor_.listen(8, ec);
    ::umask(old_mask);
    if (ec) {
        error = "server.control_socket: cannot listen on " + path + ": " + ec.message();
        server->path_.clear(); // nothing of ours to remove
        return nullptr;
    }
    server->accept();
    return server;
}

ControlServer::~ControlServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (!path_.empty()) ::unlink(path_.c_str());
}

void ControlServer::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, stream_protocol::socket s) {
        if (ec == boost::asio::error::operation_aborted) return;
        if (!ec) std::make_shared<Session>(io_, std::move(s), handler_)->start();
        accept();
    });
}

int run_ctl_command(int argc, char** argv) {
    // argv[0] is "ctl".
    std::string socket_path = default_socket;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::printf(
                "Usage: traverse ctl [--socket PATH] status|reload|drain\n\n"
                "Talks to a running traverse over its control socket (server.control_socket,\n"
                "default %s):\n"
                "  status   serving or draining, and the allocations held\n"
                "  reload   read the configuration file again (like SIGHUP) and say what\n"
                "           changed, what needs a restart, or why the file was refused\n"
                "  drain    stop taking allocations and exit when they end (like SIGTERM\n"
                "           with server.drain_timeout)\n"
                "Exit status: 0 ok, 1 the server refused, 2 usage or connection error.\n",
                default_socket);
            return 0;
        }
        if (arg == "--socket") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "traverse ctl: --socket needs a value\n");
                return 2;
            }
            socket_path = argv[++i];
        } else if (arg.starts_with("--socket=")) {
            socket_path = std::string(arg.substr(9));
        } else if (command.empty() && !arg.starts_with("-")) {
            command = std::string(arg);
        } else {
            std::fprintf(stderr, "traverse ctl: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (command != "status" && command != "reload" && command != "drain") {
        std::fprintf(stderr, "traverse ctl: expected a command: status, reload or drain\n");
        return 2;
    }
    boost::asio::io_context io;
    stream_protocol::socket s(io);
    boost::system::error_code ec;
    s.connect(stream_protocol::endpoint(socket_path), ec);
    if (ec) {
        std::fprintf(stderr, "traverse ctl: cannot reach the server at %s: %s\n",
                     socket_path.c_str(), ec.message().c_str());
        return 2;
    }
    const std::string line = command + "\n";
    boost::asio::write(s, boost::asio::buffer(line), ec);
    boost::asio::streambuf answer(64 * 1024);
    if (!ec) boost::asio::read_until(s, answer, '\n', ec);
    if (ec && answer.size() == 0) {
        std::fprintf(stderr, "traverse ctl: no answer from %s: %s\n", socket_path.c_str(),
                     ec.message().c_str());
        return 2;
    }
    std::string text(boost::asio::buffers_begin(answer.data()),
                     boost::asio::buffers_end(answer.data()));
    std::fputs(text.c_str(), stdout);
    return text.starts_with("ok") ? 0 : 1;
}

std::string drop_privileges(const std::string& user, const std::string& group) {
    errno = 0;
    const passwd* pw = ::getpwnam(user.c_str());
    if (!pw) return "server.user: no such user '" + user + "'";
    const uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (!group.empty()) {
        const struct group* gr = ::getgrnam(group.c_str());
        if (!gr) return "server.group: no such group '" + group + "'";
        gid = gr->gr_gid;
    }
    if (::geteuid() != 0) {
        if (::geteuid() == uid && ::getegid() == gid) return {}; // already that user
        return "server.user: switching to '" + user + "' needs root (running as uid " +
               std::to_string(::geteuid()) + ")";
    }
    // Order matters: groups first (needs root), then the user; glibc applies each to every
    // thread of the process.
    if (::setgroups(0, nullptr) != 0) return std::string("setgroups: ") + std::strerror(errno);
    if (::setgid(gid) != 0) return std::string("setgid: ") + std::strerror(errno);
    if (::setuid(uid) != 0) return std::string("setuid: ") + std::strerror(errno);
    if (::setuid(0) == 0) return "privileges could not be dropped: setuid(0) still succeeds";
    return {};
}

} // namespace traverse::app
