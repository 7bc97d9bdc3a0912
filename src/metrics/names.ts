/**
 * @module metrics/names
 * Every flannel metric's name and help text, in one place: dashboards, alerts and the README
 * depend on these names, so they change only on purpose.
 */
export const METRIC = {
  buildInfo: ['flannel_build_info', 'What runs: always 1, labelled with the version, the backend and the datastore (etcd or kube).'],
  leaseInfo: ['flannel_lease_info', 'This node\'s lease: always 1, labelled with its subnet and IPv6 subnet ("" when none).'],
  leaseExpiry: ['flannel_lease_expiry_seconds', "Seconds until this node's lease expires (absent for a reservation, which never expires)."],
  leaseRenewals: ['flannel_lease_renewals_total', "Successful renewals of this node's lease."],
  leaseReacquisitions: ['flannel_lease_reacquisitions_total', "Times this node's lease was re-created or written back after it was deleted, expired or rewritten by someone else."],
  peers: ['flannel_peers', 'Peer leases (other nodes) in the datastore, by the backend type each lease carries and address family.'],
  peersProgrammed: ['flannel_peers_programmed', 'Peers whose plan has kernel objects and no problems and whose objects are all in place, by backend and address family (vxlan, host-gw, ipip).'],
  reconcilePasses: ['flannel_reconcile_passes_total', 'Reconciler passes, by kind (full: every peer re-checked against the kernel; incremental: lease changes).'],
  reconcileDuration: ['flannel_reconcile_duration_seconds', 'Duration of reconciler passes, by kind.'],
  reconcileObjects: ['flannel_reconcile_objects_total', 'Kernel objects (routes, neighbours, FDB entries) reconciler passes wrote (applied), deleted (removed) or failed to change (failed).'],
  reconcileRepairs: ['flannel_reconcile_repairs_total', 'Kernel objects re-applied because the kernel lost or changed them (drift), by kind (route, neigh, fdb).'],
  kernelErrors: ['flannel_kernel_request_errors_total', 'Failed netlink requests, by object (route, neigh, fdb, link, addr).'],
  datastoreUp: ['flannel_datastore_up', 'Whether the lease watch is connected to the datastore: 1 while connected, 0 before the first listing and while it retries after a break.'],
  watchRestarts: ['flannel_datastore_watch_restarts_total', 'Times the lease watch re-listed the leases (after a broken watch, a compaction or a resync).'],
  datastoreEvents: ['flannel_datastore_events_total', 'Lease events (a lease added, changed or removed) received from the datastore.'],
  lastEvent: ['flannel_datastore_last_event_timestamp_seconds', 'Unix time of the last lease event or listing received from the datastore.'],
  trafficResyncs: ['flannel_traffic_resyncs_total', 'Checks of the iptables/nftables rules, by result (ok, failed).'],
  trafficResyncDuration: ['flannel_traffic_resync_duration_seconds', 'Duration of a check of the iptables/nftables rules.'],
  trafficRestored: ['flannel_traffic_rules_restored_total', 'Traffic rules put back because they were missing or altered.'],
  udpPackets: ['flannel_udp_packets_total', 'Packets of the udp backend, by direction (to_peer, from_peer) and result (forwarded, dropped).'],
  wireguardGoRestarts: ['flannel_wireguard_go_restarts_total', 'Restarts of wireguard-go (the wireguard backend in userspace), by device.'],
} as const satisfies Record<string, readonly [name: string, help: string]>;

export type MetricKey = keyof typeof METRIC;

/** The names flannel defines (process_* and nodejs_* come from prom-client's default metrics). */
export const METRIC_NAMES: readonly string[] = Object.values(METRIC).map(([name]) => name);
