// SPDX-License-Identifier: Apache-2.0
// TLS server context from a certificate chain and private key (OpenSSL through Asio).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

namespace traverse::net {

/// Outcome of building a TLS context: `error` names the file and OpenSSL's reason on failure.
struct TlsContextResult {
    std::shared_ptr<boost::asio::ssl::context> context;
    std::string error;
};

/// A TLS 1.2+ server context; the context is shared by every worker's TLS listener.
TlsContextResult make_tls_server_context(const std::string& certificate_chain_file,
                                         const std::string& private_key_file);

} // namespace traverse::net
