// SPDX-License-Identifier: Apache-2.0
// TLS context setup.
#include "server/net/tls.hpp"

#include <openssl/ssl.h>

namespace traverse::net {

TlsContextResult make_tls_server_context(const std::string& certificate_chain_file,
                                         const std::string& private_key_file) {
    namespace ssl = boost::asio::ssl;
    TlsContextResult r;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(certificate_chain_file, ec);
    if (ec) {
        r.error = "tls.certificate: cannot load " + certificate_chain_file + ": " + ec.message();
        return r;
    }
    ctx->use_private_key_file(private_key_file, ssl::context::pem, ec);
    if (ec) {
        r.error = "tls.private_key: cannot load " + private_key_file + ": " + ec.message();
        return r;
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
        r.error = "tls.private_key: " + private_key_file + " does not match the certificate";
        return r;
    }
    r.context = std::move(ctx);
    return r;
}

} // namespace traverse::net
