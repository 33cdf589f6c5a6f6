// SPDX-License-Identifier: Apache-2.0
// IANA STUN registry tables: method, attribute and error-code names.
#include "proto/registry.hpp"

#include "proto/types.hpp"

namespace traverse::proto {

bool is_known(std::uint16_t type) noexcept {
    switch (static_cast<AttrType>(type)) {
    case AttrType::mapped_address:
    case AttrType::response_address:
    case AttrType::change_request:
    case AttrType::source_address:
    case AttrType::changed_address:
    case AttrType::username:
    case AttrType::password:
    case AttrType::message_integrity:
    case AttrType::error_code:
    case AttrType::unknown_attributes:
    case AttrType::reflected_from:
    case AttrType::channel_number:
    case AttrType::lifetime:
    case AttrType::xor_peer_address:
    case AttrType::data:
    case AttrType::realm:
    case AttrType::nonce:
    case AttrType::xor_relayed_address:
    case AttrType::requested_address_family:
    case AttrType::even_port:
    case AttrType::requested_transport:
    case AttrType::dont_fragment:
    case AttrType::message_integrity_sha256:
    case AttrType::password_algorithm:
    case AttrType::userhash:
    case AttrType::xor_mapped_address:
    case AttrType::reservation_token:
    case AttrType::priority:
    case AttrType::use_candidate:
    case AttrType::padding:
    case AttrType::response_port:
    case AttrType::additional_address_family:
    case AttrType::address_error_code:
    case AttrType::password_algorithms:
    case AttrType::alternate_domain:
    case AttrType::icmp:
    case AttrType::software:
    case AttrType::alternate_server:
    case AttrType::fingerprint:
    case AttrType::ice_controlled:
    case AttrType::ice_controlling:
    case AttrType::response_origin:
    case AttrType::other_address:
        return true;
    }
    return false;
}

std::string_view method_name(std::uint16_t method) noexcept {
    // IANA "STUN Methods" (RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1).
    switch (method) {
    case 0x001:
        return "Binding";
    case 0x003:
        return "Allocate";
    case 0x004:
        return "Refresh";
    case 0x006:
        return "Send";
    case 0x007:
        return "Data";
    case 0x008:
        return "CreatePermission";
    case 0x009:
        return "ChannelBind";
    case 0x00A:
        return "Connect";
    case 0x00B:
        return "ConnectionBind";
    case 0x00C:
        return "ConnectionAttempt";
    default:
        return "unknown";
    }
}

std::string_view attribute_name(std::uint16_t type) noexcept {
    // IANA "STUN Attributes"; the RFC 3489 names are kept for decoding classic messages.
    switch (type) {
    case 0x0001:
        return "MAPPED-ADDRESS";
    case 0x0002:
        return "RESPONSE-ADDRESS";
    case 0x0003:
        return "CHANGE-REQUEST";
    case 0x0004:
        return "SOURCE-ADDRESS";
    case 0x0005:
        return "CHANGED-ADDRESS";
    case 0x0006:
        return "USERNAME";
    case 0x0007:
        return "PASSWORD";
    case 0x0008:
        return "MESSAGE-INTEGRITY";
    case 0x0009:
        return "ERROR-CODE";
    case 0x000A:
        return "UNKNOWN-ATTRIBUTES";
    case 0x000B:
        return "REFLECTED-FROM";
    case 0x000C:
        return "CHANNEL-NUMBER";
    case 0x000D:
        return "LIFETIME";
    case 0x0012:
        return "XOR-PEER-ADDRESS";
    case 0x0013:
        return "DATA";
    case 0x0014:
        return "REALM";
    case 0x0015:
        return "NONCE";
    case 0x0016:
        return "XOR-RELAYED-ADDRESS";
    case 0x0017:
        return "REQUESTED-ADDRESS-FAMILY";
    case 0x0018:
        return "EVEN-PORT";
    case 0x0019:
        return "REQUESTED-TRANSPORT";
    case 0x001A:
        return "DONT-FRAGMENT";
    case 0x001C:
        return "MESSAGE-INTEGRITY-SHA256";
    case 0x001D:
        return "PASSWORD-ALGORITHM";
    case 0x001E:
        return "USERHASH";
    case 0x0020:
        return "XOR-MAPPED-ADDRESS";
    case 0x0022:
        return "RESERVATION-TOKEN";
    case 0x0024:
        return "PRIORITY";
    case 0x0025:
        return "USE-CANDIDATE";
    case 0x0026:
        return "PADDING";
    case 0x0027:
        return "RESPONSE-PORT";
    case 0x8000:
        return "ADDITIONAL-ADDRESS-FAMILY";
    case 0x8001:
        return "ADDRESS-ERROR-CODE";
    case 0x8002:
        return "PASSWORD-ALGORITHMS";
    case 0x8003:
        return "ALTERNATE-DOMAIN";
    case 0x8004:
        return "ICMP";
    case 0x8022:
        return "SOFTWARE";
    case 0x8023:
        return "ALTERNATE-SERVER";
    case 0x8028:
        return "FINGERPRINT";
    case 0x8029:
        return "ICE-CONTROLLED";
    case 0x802A:
        return "ICE-CONTROLLING";
    case 0x802B:
        return "RESPONSE-ORIGIN";
    case 0x802C:
        return "OTHER-ADDRESS";
    default:
        return "unknown";
    }
}

std::string_view error_reason(int code) noexcept {
    // IANA "STUN Error Codes" (RFC 8489 §14.8 and §18.3, RFC 8656 §19, RFC 8445 §16.1).
    switch (code) {
    case 300:
        return "Try Alternate";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthenticated";
    case 403:
        return "Forbidden";
    case 420:
        return "Unknown Attribute";
    case 437:
        return "Allocation Mismatch";
    case 438:
        return "Stale Nonce";
    case 440:
        return "Address Family not Supported";
    case 441:
        return "Wrong Credentials";
    case 442:
        return "Unsupported Transport Protocol";
    case 443:
        return "Peer Address Family Mismatch";
    case 486:
        return "Allocation Quota Reached";
    case 487:
        return "Role Conflict";
    case 500:
        return "Server Error";
    case 508:
        return "Insufficient Capacity";
    default:
        break;
    }
    if (code >= 300 && code <= 399) return "Redirect";
    if (code >= 400 && code <= 499) return "Client Error";
    if (code >= 500 && code <= 599) return "Server Error";
    if (code >= 600 && code <= 699) return "Global Failure";
    return "";
}

} // namespace traverse::proto
