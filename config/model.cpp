// SPDX-License-Identifier: Apache-2.0
// Names of the model's enumerations and the no-config-file defaults.
#include "config/model.hpp"

namespace traverse::config {

std::string_view to_string(Transport transport) {
    switch (transport) {
    case Transport::udp:
        return "udp";
    case Transport::tcp:
        return "tcp";
    case Transport::tls:
        return "tls";
    }
    return "?";
}

std::string_view to_string(LogFormat format) {
    switch (format) {
    case LogFormat::text:
        return "text";
    case LogFormat::json:
        return "json";
    }
    return "?";
}

std::string to_string(const Listener& listener) {
    const bool v6 = listener.address.find(':') != std::string::npos;
    std::string text{to_string(listener.transport)};
    text += "://";
    text += v6 ? "[" + listener.address + "]" : listener.address;
    text += ':';
    text += std::to_string(listener.port);
    return text;
}

ServerConfig default_config() {
    ServerConfig config;
    for (const std::string_view address :
         {defaults::listener_address, defaults::listener_address_v6}) {
        for (const Transport transport : {Transport::udp, Transport::tcp}) {
            config.listeners.push_back({.transport = transport,
                                        .address = std::string{address},
                                        .port = defaults::stun_port});
        }
    }
    return config;
}

} // namespace traverse::config
