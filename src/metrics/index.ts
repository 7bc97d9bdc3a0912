export { createMetrics, type Datastore, type Family, type FlannelMetrics, type KernelOp, type LeaseView, type MetricsInfo, type ObjectKind, type PassView, type PeerView, type UdpPacketCounts, type WatchView } from './metrics.ts';
export { METRIC, METRIC_NAMES, type MetricKey } from './names.ts';
