// SPDX-License-Identifier: Apache-2.0
// Counts global operator new calls to prove parsing and building do not allocate.
#include "proto/attributes.hpp"
#include "proto/channel_data.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/stream_framer.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TRAVERSE_PROTO_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TRAVERSE_PROTO_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef TRAVERSE_PROTO_COUNT_ALLOCATIONS
#define TRAVERSE_PROTO_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<std::size_t> allocations{0};
} // namespace

#if TRAVERSE_PROTO_COUNT_ALLOCATIONS
// Replacements for the global allocation functions; every other form forwards to these.
void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    return ::operator new(size);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
#endif

namespace traverse::proto {

TEST_SUITE("proto") {

    TEST_CASE("parsing a request and building its response allocate nothing") {
        if (!TRAVERSE_PROTO_COUNT_ALLOCATIONS) {
            MESSAGE("skipped: sanitizers own operator new");
            return;
        }
        const test::Bytes request = test::load_vector("rfc5769/request.hex");
        const test::Bytes channel = test::from_hex("40010005 0102030405 000000");
        const auto key = bytes_of("VOkJxbRl1RmTxUk/WvJxBt");
        std::array<std::byte, 512> buffer{};
        // Warm up once so lazily created per-thread state (libcrypto contexts) exists.
        (void)MessageView::parse(request)->verify_integrity(key);

        const std::size_t before = allocations.load();
        bool ok = true;
        std::size_t response_size = 0;
        {
            const auto view = MessageView::parse(request);
            ok = ok && view.has_value() && view->verify_integrity(key);
            const auto username = decode_username(*view->find(AttrType::username));
            ok = ok && username.has_value();
            const auto cd = parse_channel_data(channel, true);
            ok = ok && cd.has_value() && next_frame(channel).length == 12;

            MessageBuilder b(buffer);
            b.start(make_type(Method::binding, MessageClass::success_response),
                    view->transaction_id());
            b.add_xor_address(AttrType::xor_mapped_address,
                              TransportAddress::v4({192, 0, 2, 1}, 32853));
            b.add_string(AttrType::software, "traverse");
            b.add_message_integrity(key);
            b.add_fingerprint();
            const auto out = b.finish();
            ok = ok && out.has_value();
            response_size = out.has_value() ? out->size() : 0;
        }
        const std::size_t after = allocations.load();

        CHECK(ok);
        CHECK(response_size == 20 + 12 + 12 + 24 + 8);
        CHECK(after - before == 0);
    }

    TEST_CASE("the allocation counter sees allocations") {
        if (!TRAVERSE_PROTO_COUNT_ALLOCATIONS) return;
        const std::size_t before = allocations.load();
        auto* p = new int(3);
        const std::size_t after = allocations.load();
        delete p;
        CHECK(after - before == 1);
    }

} // TEST_SUITE
} // namespace traverse::proto
