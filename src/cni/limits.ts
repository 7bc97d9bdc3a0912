/**
 * @module cni/limits
 * How much outside input the plugin accepts, and the helpers that keep its messages short.
 * Every read is bounded by one of these (the sys layer reads at most limit + one chunk and
 * refuses the rest), so a `subnetFile` of `/dev/zero` or a runtime that never closes a stream
 * cannot make the plugin grow until the kernel kills it.
 */

/**
 * subnet.env: flanneld writes 4 to 6 short lines (~100-200 bytes); operators may add their own
 * lines (the parser ignores unknown names). 64 KiB is ~300x what flanneld writes.
 */
export const SUBNET_FILE_LIMIT = 64 * 1024;

/**
 * The network configuration on stdin: ~300 bytes from the conflist, plus what the runtime adds
 * (prevResult, runtimeConfig such as portMappings, GC's list of valid attachments: ~60 bytes per
 * attachment, so ~7 KiB for a node with 110 pods). 1 MiB leaves two orders of magnitude.
 */
export const STDIN_LIMIT = 1024 * 1024;

/**
 * `<dataDir>/<containerID>`, written by ADD from the configuration: re-encoding can grow it at most
 * 6x (`<` becomes `\u003c`), so anything larger than this is not a file ADD wrote.
 */
export const SAVED_DELEGATE_LIMIT = 8 * 1024 * 1024;

/**
 * Containers and arrays nested deeper than this in the configuration are refused. Real
 * configurations nest 3-5 levels; the plugin copies and re-encodes parts of the configuration
 * recursively, and V8's JSON.stringify overflows its stack a few thousand levels down.
 */
export const JSON_DEPTH_LIMIT = 128;

/**
 * CNI_CONTAINERID: the spec sets no length, but the plugin saves the delegate configuration as
 * `<dataDir>/<containerID>` and a Linux file name has at most 255 bytes (NAME_MAX). The ID is
 * ASCII (the spec's character set), so characters and bytes are the same. Runtimes use 64.
 */
export const CONTAINER_ID_LIMIT = 255;

/** CNI_IFNAME: IFNAMSIZ (16) minus the terminating NUL, in bytes, as the kernel and libcni count. */
export const IFNAME_LIMIT = 15;

/** "64 KiB (65536 bytes)". */
export function sizeText(bytes: number): string {
  const exact = `${bytes} bytes`;
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB (${exact})`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB (${exact})`;
  return exact;
}

/** `text` as it is, or its first `max` characters and how long it was: outside input in messages. */
export function clip(text: string, max = 256): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} characters)`;
}

/** UTF-8 length of `text` (lone surrogates count as the 3 bytes of U+FFFD), without Buffer or TextEncoder. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
