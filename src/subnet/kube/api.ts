/**
 * @module subnet/kube/api
 * The narrow slice of the Kubernetes API the subnet manager uses, behind our own interface (like
 * the etcd Registry seam): node get/list/watch, node status patches, one pod lookup. Objects come
 * out validated and reduced to what flannel reads, so nothing past this seam sees client types.
 */

/** A Node, reduced to the fields flannel reads. */
export interface NodeView {
  readonly name: string;
  readonly resourceVersion: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** spec.podCIDRs, or [spec.podCIDR] when only that is set; empty when none is assigned yet. */
  readonly podCIDRs: readonly string[];
}

export type NodeWatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly node: NodeView }
  | { readonly type: 'BOOKMARK'; readonly resourceVersion: string };

/** The status condition flannel sets once the network is up (upstream's field order). */
export interface NodeCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly lastHeartbeatTime: string;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface KubeApi {
  /** Where the API server is, for messages (never carries credentials). */
  readonly server: string;
  /** Rejects with DatastoreError E_KUBE_NOT_FOUND when the node does not exist. */
  getNode(name: string, signal: AbortSignal): Promise<NodeView>;
  listNodes(signal: AbortSignal): Promise<{ nodes: NodeView[]; resourceVersion: string }>;
  /**
   * Watches all nodes from `resourceVersion`. Ends when the server closes the stream or `signal`
   * aborts; throws DatastoreError E_KUBE_GONE when that version is too old (HTTP 410 or a watch
   * ERROR event with code 410), another DatastoreError for any other failure.
   */
  watchNodes(resourceVersion: string, signal: AbortSignal): AsyncIterable<NodeWatchEvent>;
  /**
   * Merges `annotations` (null removes one) into the node's metadata with one strategic-merge patch on the `status`
   * subresource, as upstream does (its ClusterRole grants `patch` on nodes/status only).
   */
  patchNodeAnnotations(name: string, annotations: Readonly<Record<string, string | null>>, signal: AbortSignal): Promise<NodeView>;
  /** Sets one status condition (strategic merge: conditions are keyed by type). */
  patchNodeCondition(name: string, condition: NodeCondition, signal: AbortSignal): Promise<void>;
  /** spec.nodeName of a pod ('' while unscheduled). */
  getPodNodeName(namespace: string, name: string, signal: AbortSignal): Promise<string>;
}
