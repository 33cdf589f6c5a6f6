// SPDX-License-Identifier: Apache-2.0
// Fuzz target: parse -> build -> parse. Whatever MessageView accepts is rebuilt attribute by
// attribute with MessageBuilder (integrity and fingerprint recomputed); the rebuilt message
// must parse with the same header and attributes, and typed values (addresses, XOR addresses,
// numbers, error codes) must survive their encoder unchanged.
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/types.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace traverse::proto;

namespace {

bool is_trailer(std::uint16_t type) {
    return type == to_underlying(AttrType::message_integrity) ||
           type == to_underlying(AttrType::message_integrity_sha256) ||
           type == to_underlying(AttrType::fingerprint);
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Re-encodes one decoded value into a fresh message and decodes it again.
void typed_round_trip(const Attribute& a, const TransactionId& id, std::uint32_t cookie) {
    std::array<std::byte, 1024> buffer{};
    MessageBuilder b(buffer);
    const MessageType type = make_type(Method::binding, MessageClass::success_response);
    b.start(type, id, cookie);
    enum class Kind { none, address, xor_address, u32, error } kind = Kind::none;
    TransportAddress address{};
    std::uint32_t number = 0;
    ErrorCode error{};
    if (auto v = decode_address(a); v && a.type == to_underlying(AttrType::mapped_address)) {
        kind = Kind::address;
        address = *v;
        b.add_address(AttrType::mapped_address, address);
    } else if (auto x = decode_xor_address(a, id);
               x && a.type == to_underlying(AttrType::xor_peer_address)) {
        kind = Kind::xor_address;
        address = *x;
        b.add_xor_address(AttrType::xor_peer_address, address);
    } else if (auto n = decode_u32(a); n && a.type == to_underlying(AttrType::lifetime)) {
        kind = Kind::u32;
        number = *n;
        b.add_u32(AttrType::lifetime, number);
    } else if (auto e = decode_error_code(a)) {
        kind = Kind::error;
        error = *e;
        b.add_error_code(error.code, error.reason);
    }
    if (kind == Kind::none) return;
    const auto wire = b.finish();
    FUZZ_CHECK(wire.has_value());
    const auto again = MessageView::parse(*wire);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->attributes().size() == 1);
    const Attribute& r = again->attributes()[0];
    switch (kind) {
    case Kind::address:
        FUZZ_CHECK(decode_address(r).has_value() && *decode_address(r) == address);
        break;
    case Kind::xor_address:
        FUZZ_CHECK(decode_xor_address(r, id).has_value() && *decode_xor_address(r, id) == address);
        break;
    case Kind::u32:
        FUZZ_CHECK(decode_u32(r).has_value() && *decode_u32(r) == number);
        break;
    case Kind::error: {
        const auto e = decode_error_code(r);
        FUZZ_CHECK(e.has_value() && e->code == error.code && e->reason == error.reason);
        break;
    }
    case Kind::none:
        break;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> wire(reinterpret_cast<const std::byte*>(data), size);
    const auto first = MessageView::parse(wire);
    if (!first) return 0;

    // Rebuild: ordinary attributes verbatim, then integrity and fingerprint recomputed.
    std::vector<std::byte> buffer(wire.size() + 128);
    MessageBuilder b(buffer);
    b.start(first->type(), first->transaction_id(), first->cookie());
    std::vector<const Attribute*> kept;
    for (const Attribute& a : first->attributes()) {
        if (is_trailer(a.type)) continue;
        b.add_raw(a.type, a.value);
        kept.push_back(&a);
    }
    const std::array<std::byte, 16> key{std::byte{1}, std::byte{2}, std::byte{3}};
    if (first->has_message_integrity()) b.add_message_integrity(key);
    if (first->has_message_integrity_sha256()) b.add_message_integrity_sha256(key);
    if (first->has_fingerprint()) b.add_fingerprint();
    const auto rebuilt = b.finish();
    FUZZ_CHECK(rebuilt.has_value());
    const auto second = MessageView::parse(*rebuilt);
    FUZZ_CHECK(second.has_value());

    FUZZ_CHECK(second->type() == first->type());
    FUZZ_CHECK(second->transaction_id() == first->transaction_id());
    FUZZ_CHECK(second->cookie() == first->cookie());
    FUZZ_CHECK(second->has_message_integrity() == first->has_message_integrity());
    FUZZ_CHECK(second->has_message_integrity_sha256() == first->has_message_integrity_sha256());
    FUZZ_CHECK(second->has_fingerprint() == first->has_fingerprint());
    if (first->has_message_integrity()) FUZZ_CHECK(second->verify_integrity(key));
    if (first->has_message_integrity_sha256()) FUZZ_CHECK(second->verify_integrity_sha256(key));
    // Same ordinary attributes, same order, same values.
    std::size_t i = 0;
    for (const Attribute& a : second->attributes()) {
        if (is_trailer(a.type)) continue;
        FUZZ_CHECK(i < kept.size());
        FUZZ_CHECK(a.type == kept[i]->type);
        FUZZ_CHECK(same_bytes(a.value, kept[i]->value));
        ++i;
    }
    FUZZ_CHECK(i == kept.size());
    FUZZ_CHECK(second->unknown_required().size() == first->unknown_required().size());

    for (const Attribute* a : kept)
        typed_round_trip(*a, first->transaction_id(), first->cookie());
    return 0;
}
