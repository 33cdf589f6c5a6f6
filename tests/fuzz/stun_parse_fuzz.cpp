// SPDX-License-Identifier: Apache-2.0
// Fuzz target: MessageView::parse on arbitrary bytes, then every attribute decoder and both
// integrity checks on whatever parsed. Invariants: the view stays inside the input, attributes
// lie inside the message in wire order, at most max_attributes are indexed.
#include "proto/attributes.hpp"
#include "proto/message_view.hpp"
#include "proto/types.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

using namespace traverse::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> wire(reinterpret_cast<const std::byte*>(data), size);
    const auto view = MessageView::parse(wire);
    if (!view) return 0;
    const auto bytes = view->bytes();
    FUZZ_CHECK(bytes.data() == wire.data());
    FUZZ_CHECK(bytes.size() == wire.size());
    FUZZ_CHECK(bytes.size() >= header_size && bytes.size() % 4 == 0);
    FUZZ_CHECK(view->attributes().size() <= max_attributes);
    FUZZ_CHECK(view->unknown_required().size() <= max_unknown_required);
    std::size_t previous_end = header_size;
    for (const Attribute& a : view->attributes()) {
        // Every value lies inside the message, after the previous attribute.
        FUZZ_CHECK(a.offset >= previous_end);
        FUZZ_CHECK(a.offset + 4 + a.value.size() <= bytes.size());
        FUZZ_CHECK(a.value.data() == bytes.data() + a.offset + 4);
        previous_end = a.offset + 4 + a.value.size();
        (void)decode_address(a);
        (void)decode_xor_address(a, view->transaction_id());
        (void)decode_u32(a);
        (void)decode_u64(a);
        FUZZ_CHECK(decode_string(a).size() == a.value.size());
        (void)decode_username(a);
        (void)decode_realm(a);
        (void)decode_nonce(a);
        (void)decode_software(a);
        if (const auto e = decode_error_code(a)) FUZZ_CHECK(e->code >= 300 && e->code <= 699);
        (void)decode_change_request(a);
        (void)decode_response_port(a);
        (void)decode_channel_number(a);
        (void)decode_requested_transport(a);
        (void)decode_even_port(a);
        (void)decode_address_family(a);
        if (const auto u = decode_unknown_attributes(a)) (void)u;
        (void)decode_password_algorithm(a);
        (void)decode_password_algorithms(a);
    }
    if (auto first = view->find(AttrType::xor_peer_address)) {
        std::size_t n = 0;
        for (const auto& a : view->all(AttrType::xor_peer_address)) {
            FUZZ_CHECK(a.type == first->type);
            ++n;
        }
        FUZZ_CHECK(n == view->count(AttrType::xor_peer_address));
    }
    const std::array<std::byte, 16> key{};
    (void)view->verify_integrity(key);
    (void)view->verify_integrity_sha256(key);
    return 0;
}
