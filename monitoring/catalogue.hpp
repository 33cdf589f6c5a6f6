// SPDX-License-Identifier: Apache-2.0
// The metric catalogue: every family the exporter publishes, and which stats.hpp counter feeds
// which series. The exporter, monitoring/README.md, the Grafana dashboard and the alert rules are
// all checked against these two tables by tests/unit/monitoring.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace traverse::stats {

/// Prometheus metric type of a family.
enum class MetricType { counter, gauge, histogram };

/// Where a family's values come from.
enum class Feed {
    sources,   ///< scalar counters and gauges of the worker blocks, through `sources`
    process,   ///< /proc/self at scrape time
    responses, ///< WorkerCounters::responses: labels method (request_methods) and code
               ///< (result_codes)
    lifetime,  ///< WorkerCounters::lifetime_buckets: histogram over lifetime_bounds
};

/// One published metric family. `label` is its only label besides the opt-in `worker` label
/// ("" when the family has none); every label value is a fixed string from `sources` (or from
/// request_methods and result_codes for the responses family, whose second label is `code`).
struct Family {
    std::string_view name;        ///< full Prometheus name, `traverse_...`
    MetricType type;              ///< counter, gauge or histogram
    std::string_view label;       ///< "direction", "reason", "method", "transport", ... or ""
    std::string_view help;        ///< HELP text
    Feed feed = Feed::sources;    ///< where the values come from
    std::string_view label2 = ""; ///< second label (only the responses family: "code")
};

/// Where a family's values come from: the counter `counter` of every worker block is summed
/// into the series `family{label=label_value}`, multiplied by `sign` (gauges derived from
/// counters subtract, e.g. active allocations = created - ended).
struct Source {
    std::string_view counter;     ///< member name in TRAVERSE_SERVER_COUNTERS
    std::string_view family;      ///< Family::name
    std::string_view label_value; ///< value of the family's label; "" when it has none
    int sign = 1;                 ///< +1, or -1 for a counter subtracted from a gauge
};

// clang-format off
/// Every published family, in catalogue order. The traverse_process_* families are read from
/// /proc/self at scrape time; every other family is fed by `sources`.
inline constexpr std::array families{
    Family{"traverse_udp_datagrams_total", MetricType::counter, "direction", "UDP datagrams on client-facing sockets, by direction (received, sent)"},
    Family{"traverse_udp_send_errors_total", MetricType::counter, "", "UDP datagrams the kernel refused to send"},
    Family{"traverse_malformed_dropped_total", MetricType::counter, "", "Datagrams dropped because they failed to parse as STUN"},
    Family{"traverse_unexpected_dropped_total", MetricType::counter, "", "Well-formed messages dropped without an answer (responses, unknown methods)"},
    Family{"traverse_stun_requests_total", MetricType::counter, "method", "STUN/TURN requests, by method (binding; turn = Allocate, Refresh, CreatePermission, ChannelBind)"},
    Family{"traverse_stun_responses_total", MetricType::counter, "method", "Answers to STUN/TURN requests, by method and result code (success or the STUN error code); retransmissions answered from the cache are not counted again", Feed::responses, "code"},
    Family{"traverse_binding_indications_total", MetricType::counter, "", "STUN Binding indications received (keepalives)"},
    Family{"traverse_rfc3489_requests_total", MetricType::counter, "", "Binding requests in the RFC 3489 format (no magic cookie)"},
    Family{"traverse_error_responses_total", MetricType::counter, "", "STUN error responses sent"},
    Family{"traverse_stream_connections_total", MetricType::counter, "", "TCP and TLS client connections accepted"},
    Family{"traverse_stream_connections_refused_total", MetricType::counter, "", "TCP and TLS connections closed at accept by connection limits"},
    Family{"traverse_stream_connections_closed_total", MetricType::counter, "reason", "TCP and TLS connections closed by the server, by reason (garbage, idle)"},
    Family{"traverse_stream_connections_active", MetricType::gauge, "transport", "TCP and TLS client connections currently open, by transport (tcp, tls)"},
    Family{"traverse_tls_handshake_failures_total", MetricType::counter, "", "TLS handshakes that failed or timed out"},
    Family{"traverse_challenges_total", MetricType::counter, "", "401/438 answers sent with a fresh nonce"},
    Family{"traverse_challenges_rate_limited_total", MetricType::counter, "", "Unauthenticated requests dropped by the per-source answer limit"},
    Family{"traverse_auth_failures_total", MetricType::counter, "reason", "Requests refused by the credential checks, by reason"},
    Family{"traverse_allocations_created_total", MetricType::counter, "", "Allocations created"},
    Family{"traverse_allocations_ended_total", MetricType::counter, "reason", "Allocations ended, by reason (deleted: Refresh with LIFETIME 0 or connection close; expired)"},
    Family{"traverse_allocations_active", MetricType::gauge, "", "Allocations currently held (created minus ended)"},
    Family{"traverse_allocations_refused_total", MetricType::counter, "reason", "TURN requests refused for a quota, a resource or by policy, by reason (quota_user, quota_ip: 486; quota_total, port_exhaustion: 508; peer_filter: 403 to CreatePermission or ChannelBind; draining: 300 or 508 while the server drains)"},
    Family{"traverse_allocation_lifetime_seconds", MetricType::histogram, "", "How long allocations lived, observed when they end (deleted, expired or connection closed)", Feed::lifetime},
    Family{"traverse_allocation_mismatches_total", MetricType::counter, "", "Requests answered 437 (no allocation, or one already exists)"},
    Family{"traverse_permissions_active", MetricType::gauge, "", "Permissions currently installed on allocations"},
    Family{"traverse_channels_active", MetricType::gauge, "", "Channels currently bound (not yet expired)"},
    Family{"traverse_relay_ports", MetricType::gauge, "", "Relay ports configured (relay.port_range, split between the workers)"},
    Family{"traverse_relay_ports_free", MetricType::gauge, "", "Relay ports not held by an allocation"},
    Family{"traverse_listeners_bound", MetricType::gauge, "", "Listening sockets open and serving (one per listener and worker)"},
    Family{"traverse_kernel_receive_drops_total", MetricType::counter, "socket", "Datagrams the kernel dropped because a socket's receive buffer was full (SO_MEMINFO), by socket (listener, relay)"},
    Family{"traverse_relayed_packets_total", MetricType::counter, "direction", "Datagrams relayed, by direction (to_peer, to_client)"},
    Family{"traverse_relayed_bytes_total", MetricType::counter, "direction", "Payload bytes relayed, by direction (to_peer, to_client)"},
    Family{"traverse_relay_dropped_total", MetricType::counter, "reason", "Relayed datagrams dropped, by reason"},
    Family{"traverse_icmp_relayed_total", MetricType::counter, "", "ICMP errors from peers reported to clients in Data indications"},
    Family{"traverse_process_cpu_seconds_total", MetricType::counter, "", "User and system CPU time of the process in seconds", Feed::process},
    Family{"traverse_process_resident_memory_bytes", MetricType::gauge, "", "Resident memory of the process in bytes", Feed::process},
    Family{"traverse_process_open_fds", MetricType::gauge, "", "Open file descriptors of the process", Feed::process},
    Family{"traverse_process_draining", MetricType::gauge, "", "1 while the server drains (SIGTERM with server.drain_timeout, or traverse ctl drain): no new allocations", Feed::process},
};

/// Every counter of TRAVERSE_SERVER_COUNTERS and the series it feeds; a counter may feed more
/// than one family (allocations_created feeds the created counter and the active gauge).
inline constexpr std::array sources{
    Source{"datagrams_received", "traverse_udp_datagrams_total", "received"},
    Source{"datagrams_sent", "traverse_udp_datagrams_total", "sent"},
    Source{"datagram_send_errors", "traverse_udp_send_errors_total", ""},
    Source{"malformed_dropped", "traverse_malformed_dropped_total", ""},
    Source{"unexpected_dropped", "traverse_unexpected_dropped_total", ""},
    Source{"binding_requests", "traverse_stun_requests_total", "binding"},
    Source{"turn_requests", "traverse_stun_requests_total", "turn"},
    Source{"binding_indications", "traverse_binding_indications_total", ""},
    Source{"rfc3489_requests", "traverse_rfc3489_requests_total", ""},
    Source{"error_responses", "traverse_error_responses_total", ""},
    Source{"stream_connections_accepted", "traverse_stream_connections_total", ""},
    Source{"stream_connections_refused", "traverse_stream_connections_refused_total", ""},
    Source{"stream_garbage_closed", "traverse_stream_connections_closed_total", "garbage"},
    Source{"stream_idle_closed", "traverse_stream_connections_closed_total", "idle"},
    Source{"tls_handshake_failures", "traverse_tls_handshake_failures_total", ""},
    Source{"challenges_sent", "traverse_challenges_total", ""},
    Source{"challenges_rate_limited", "traverse_challenges_rate_limited_total", ""},
    Source{"auth_failures_bad_request", "traverse_auth_failures_total", "bad_request"},
    Source{"auth_failures_stale_nonce", "traverse_auth_failures_total", "stale_nonce"},
    Source{"auth_failures_unknown_user", "traverse_auth_failures_total", "unknown_user"},
    Source{"auth_failures_bad_integrity", "traverse_auth_failures_total", "bad_integrity"},
    Source{"auth_failures_expired_rest", "traverse_auth_failures_total", "expired_rest"},
    Source{"auth_failures_wrong_credentials", "traverse_auth_failures_total", "wrong_credentials"},
    Source{"allocations_created", "traverse_allocations_created_total", ""},
    Source{"allocations_created", "traverse_allocations_active", "", +1},
    Source{"allocations_deleted", "traverse_allocations_ended_total", "deleted"},
    Source{"allocations_deleted", "traverse_allocations_active", "", -1},
    Source{"allocations_expired", "traverse_allocations_ended_total", "expired"},
    Source{"allocations_expired", "traverse_allocations_active", "", -1},
    Source{"allocations_refused_quota_user", "traverse_allocations_refused_total", "quota_user"},
    Source{"allocations_refused_quota_ip", "traverse_allocations_refused_total", "quota_ip"},
    Source{"allocations_refused_quota_total", "traverse_allocations_refused_total", "quota_total"},
    Source{"allocations_refused_capacity", "traverse_allocations_refused_total", "port_exhaustion"},
    Source{"peers_refused", "traverse_allocations_refused_total", "peer_filter"},
    Source{"allocations_refused_draining", "traverse_allocations_refused_total", "draining"},
    Source{"allocation_mismatches", "traverse_allocation_mismatches_total", ""},
    Source{"permissions_installed", "traverse_permissions_active", "", +1},
    Source{"permissions_removed", "traverse_permissions_active", "", -1},
    Source{"channels_bound", "traverse_channels_active", "", +1},
    Source{"channels_unbound", "traverse_channels_active", "", -1},
    Source{"tcp_connections_opened", "traverse_stream_connections_active", "tcp", +1},
    Source{"tcp_connections_closed", "traverse_stream_connections_active", "tcp", -1},
    Source{"tls_connections_opened", "traverse_stream_connections_active", "tls", +1},
    Source{"tls_connections_closed", "traverse_stream_connections_active", "tls", -1},
    Source{"relay_ports", "traverse_relay_ports", ""},
    Source{"relay_ports_free", "traverse_relay_ports_free", ""},
    Source{"listeners_bound", "traverse_listeners_bound", ""},
    Source{"kernel_drops_listener", "traverse_kernel_receive_drops_total", "listener"},
    Source{"kernel_drops_relay", "traverse_kernel_receive_drops_total", "relay"},
    Source{"relayed_to_peer_packets", "traverse_relayed_packets_total", "to_peer"},
    Source{"relayed_to_client_packets", "traverse_relayed_packets_total", "to_client"},
    Source{"relayed_to_peer_bytes", "traverse_relayed_bytes_total", "to_peer"},
    Source{"relayed_to_client_bytes", "traverse_relayed_bytes_total", "to_client"},
    Source{"relay_dropped_no_permission", "traverse_relay_dropped_total", "no_permission"},
    Source{"relay_dropped_no_channel", "traverse_relay_dropped_total", "no_channel"},
    Source{"relay_dropped_no_allocation", "traverse_relay_dropped_total", "no_allocation"},
    Source{"relay_dropped_bandwidth", "traverse_relay_dropped_total", "bandwidth"},
    Source{"relay_dropped_oversize", "traverse_relay_dropped_total", "oversize"},
    Source{"icmp_relayed", "traverse_icmp_relayed_total", ""},
};
// clang-format on

/// The family called `name`, or null.
constexpr const Family* find_family(std::string_view name) {
    for (const Family& f : families)
        if (f.name == name) return &f;
    return nullptr;
}

} // namespace traverse::stats
