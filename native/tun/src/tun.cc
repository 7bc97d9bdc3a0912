// flannel_tun: the system calls of the udp backend's data path, and nothing else.
//
// TypeScript owns every decision (which peer a packet goes to, what is dropped, the counters of
// drops); this addon owns the file descriptors and moves packets in batches between the kernel
// and buffers that TypeScript allocated once:
//   - openTun: /dev/net/tun + TUNSETIFF (IFF_TUN | IFF_NO_PI, "flannel%d"), non-blocking.
//   - openUdp: a non-blocking UDP socket bound to address:port, with large buffers.
//   - pumpStart: two uv_poll handles on the main event loop. When the TUN is readable, up to
//     `batch` packets are read into the reused tunRx buffer and JS is called once with the count;
//     JS writes each packet's next hop into txAddr (0 = drop); one sendmmsg sends the batch.
//     When the socket is readable, one recvmmsg fills udpRx; JS is called once; every packet JS
//     left a non-zero length for is written to the TUN.
// No allocation per packet, here or in JS: the message headers, address structs and buffers
// are made at pumpStart and reused.
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>
#include <string>
#include <vector>

namespace {

// Native counters, written here and read by JS through the Float64Array it passed in.
enum Counter {
  kTunReadPackets = 0,  // packets read from the TUN
  kUdpSentPackets,      // datagrams the kernel accepted
  kUdpSendDropped,      // datagrams dropped because the socket refused them (EAGAIN, ENOBUFS, ...)
  kUdpRecvPackets,      // datagrams received
  kUdpRecvTruncated,    // datagrams larger than a slot (dropped)
  kTunWrittenPackets,   // packets written to the TUN
  kTunWriteDropped,     // packets the TUN refused
  kTunReadErrors,       // read errors other than EAGAIN
  kUdpRecvErrors,       // recvmmsg errors other than EAGAIN
  kCallbacks,           // JS calls (batches)
  kCounterCount
};

// Rounds of batches per readiness callback before returning to the event loop (fairness with
// the control plane: leases, health, renewals run on the same loop).
constexpr int kRoundsPerWakeup = 8;

#define NAPI_OK(call)                                          \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      ThrowLastError(env, #call);                              \
      return nullptr;                                          \
    }                                                          \
  } while (0)

void ThrowLastError(napi_env env, const char* what) {
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  std::string msg = std::string(what) + ": " + (info && info->error_message ? info->error_message : "N-API call failed");
  napi_throw_error(env, "E_NAPI", msg.c_str());
}

const char* ErrnoName(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOBUFS: return "ENOBUFS";
    default: return "EUNKNOWN";
  }
}

// Throws an Error with .code (errno name), .errno and .syscall, like Node's own system errors.
napi_value ThrowErrno(napi_env env, int err, const char* syscall, const std::string& object) {
  std::string msg = std::string(syscall) + (object.empty() ? "" : " " + object) + ": " + ErrnoName(err) + " (" + strerror(err) + ")";
  napi_value code, message, error, errnoValue, syscallValue;
  napi_create_string_utf8(env, ErrnoName(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg.c_str(), NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscallValue);
  napi_set_named_property(env, error, "syscall", syscallValue);
  napi_throw(env, error);
  return nullptr;
}

napi_value ThrowType(napi_env env, const char* msg) {
  napi_throw_type_error(env, "E_TUN_ARGUMENT", msg);
  return nullptr;
}

bool GetInt(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  return napi_get_value_int64(env, v, out) == napi_ok;
}

// A typed array argument: its data pointer and length in elements, checked against its type.
template <typename T>
bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, T** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  napi_value ab;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, &ab, &offset) != napi_ok || type != want) return false;
  *data = static_cast<T*>(raw);
  return true;
}

napi_value GetProp(napi_env env, napi_value obj, const char* name) {
  napi_value v = nullptr;
  napi_get_named_property(env, obj, name, &v);
  return v;
}

// openTun(pattern: string): { fd: number, name: string }
napi_value OpenTun(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  char pattern[IFNAMSIZ + 1] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], pattern, sizeof(pattern), &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    return ThrowType(env, "openTun(pattern): pattern must be an interface name of 1 to 15 characters");
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "open", "/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, pattern, len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "ioctl TUNSETIFF", pattern);
  }
  napi_value result, fdValue, nameValue;
  NAPI_OK(napi_create_object(env, &result));
  NAPI_OK(napi_create_int32(env, fd, &fdValue));
  NAPI_OK(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &nameValue));
  NAPI_OK(napi_set_named_property(env, result, "fd", fdValue));
  NAPI_OK(napi_set_named_property(env, result, "name", nameValue));
  return result;
}

void SetBuffer(int fd, int force, int plain, int bytes) {
  // SO_*BUFFORCE goes past net.core.[rw]mem_max (needs CAP_NET_ADMIN, which flanneld has).
  if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof(bytes)) != 0) setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof(bytes));
}

// openUdp(address: number (host order), port: number, bufferBytes: number): number (fd)
napi_value OpenUdp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int64_t addr = 0, port = 0, bytes = 0;
  if (argc < 3 || !GetInt(env, argv[0], &addr) || !GetInt(env, argv[1], &port) || !GetInt(env, argv[2], &bytes) || addr < 0 || addr > 0xffffffffLL || port < 0 || port > 65535 || bytes < 0 || bytes > (1 << 30)) {
    return ThrowType(env, "openUdp(address, port, bufferBytes): address must be a 32-bit IPv4 address, port 0-65535");
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket", "AF_INET SOCK_DGRAM");
  if (bytes > 0) {
    SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, static_cast<int>(bytes));
    SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, static_cast<int>(bytes));
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(static_cast<uint32_t>(addr));
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
    close(fd);
    char where[64];
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
    snprintf(where, sizeof(where), "%s:%d", ip, static_cast<int>(port));
    return ThrowErrno(env, err, "bind", where);
  }
  napi_value result;
  NAPI_OK(napi_create_int32(env, fd, &result));
  return result;
}

// closeFd(fd): closing the TUN's only descriptor removes the (non-persistent) device.
napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int64_t fd = -1;
  if (argc < 1 || !GetInt(env, argv[0], &fd) || fd < 0 || fd > 0x7fffffff) return ThrowType(env, "closeFd(fd): fd must be a file descriptor");
  if (close(static_cast<int>(fd)) != 0 && errno != EINTR) return ThrowErrno(env, errno, "close", std::to_string(fd));
  return nullptr;
}

// writeTun(fd, packet: Uint8Array, length): number — one packet, for the rare replies JS makes itself.
napi_value WriteTun(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int64_t fd = -1, length = 0;
  uint8_t* data = nullptr;
  size_t size = 0;
  if (argc < 3 || !GetInt(env, argv[0], &fd) || !GetTyped(env, argv[1], napi_uint8_array, &data, &size) || !GetInt(env, argv[2], &length) || length < 0 || static_cast<size_t>(length) > size) {
    return ThrowType(env, "writeTun(fd, packet, length): bad arguments");
  }
  ssize_t n = write(static_cast<int>(fd), data, static_cast<size_t>(length));
  napi_value result;
  NAPI_OK(napi_create_int32(env, n < 0 ? -errno : static_cast<int32_t>(n), &result));
  return result;
}

struct Pump {
  napi_env env = nullptr;
  int tunFd = -1;
  int udpFd = -1;
  uint16_t portBE = 0;  // peers' port, network order
  int slot = 0;
  int batch = 0;
  uint8_t* tunRx = nullptr;
  int32_t* tunRxLen = nullptr;
  uint32_t* txAddr = nullptr;
  uint8_t* udpRx = nullptr;
  int32_t* udpRxLen = nullptr;
  double* counters = nullptr;
  napi_ref keep[8] = {nullptr};  // the typed arrays and callbacks, alive while the pump runs
  int keepCount = 0;
  napi_ref onTun = nullptr;
  napi_ref onUdp = nullptr;
  napi_async_context asyncContext = nullptr;
  uv_poll_t tunPoll;
  uv_poll_t udpPoll;
  int open = 0;  // poll handles not yet closed
  bool stopped = false;
  // Freed when both are true: the poll handles are closed and JS dropped its handle (so a late
  // pumpStop on a stopped pump never touches freed memory).
  bool closed = false;
  bool finalized = false;
  std::vector<struct mmsghdr> txMsgs;
  std::vector<struct iovec> txIov;
  std::vector<struct sockaddr_in> txNames;
  bool gso = true;
  std::vector<uint8_t> gsoBuf;
  std::vector<char> txCtl;
  std::vector<int> txSegs;
  std::vector<int> txFirst;
  std::vector<struct mmsghdr> rxMsgs;
  std::vector<struct iovec> rxIov;
};

void ReleaseJs(Pump* p) {
  napi_env env = p->env;
  for (int i = 0; i < p->keepCount; i++) napi_delete_reference(env, p->keep[i]);
  p->keepCount = 0;
  if (p->onTun) napi_delete_reference(env, p->onTun);
  if (p->onUdp) napi_delete_reference(env, p->onUdp);
  p->onTun = p->onUdp = nullptr;
  if (p->asyncContext) napi_async_destroy(env, p->asyncContext);
  p->asyncContext = nullptr;
}

void OnClosed(uv_handle_t* handle) {
  Pump* p = static_cast<Pump*>(handle->data);
  if (--p->open > 0) return;
  ReleaseJs(p);
  p->closed = true;
  if (p->finalized) delete p;
}

void StopPump(Pump* p) {
  if (p->stopped) return;
  p->stopped = true;
  uv_poll_stop(&p->tunPoll);
  uv_poll_stop(&p->udpPoll);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->tunPoll), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->udpPoll), OnClosed);
}

// Calls JS with the batch size; false when JS threw (the pump then stops and the error goes to
// the process's uncaughtException, which flanneld treats as fatal: JS is written not to throw).
bool CallJs(Pump* p, napi_ref fnRef, int count) {
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value fn, recv, arg, result;
  // napi_make_callback converts the receiver to an object: the global one (the callbacks are arrow functions).
  bool ok = napi_get_reference_value(env, fnRef, &fn) == napi_ok && napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, count, &arg) == napi_ok;
  if (ok && napi_make_callback(env, p->asyncContext, recv, fn, 1, &arg, &result) != napi_ok) {
    ok = false;
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      StopPump(p);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
  p->counters[kCallbacks] += 1;
  return ok && !p->stopped;
}

// Reads up to `batch` packets from the TUN; the count read.
int ReadTunBatch(Pump* p) {
  int n = 0;
  while (n < p->batch) {
    ssize_t r = read(p->tunFd, p->tunRx + static_cast<size_t>(n) * p->slot, p->slot);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) p->counters[kTunReadErrors] += 1;
      break;
    }
    p->tunRxLen[n] = static_cast<int32_t>(r);
    p->txAddr[n] = 0;
    n++;
  }
  p->counters[kTunReadPackets] += n;
  return n;
}

// Sends packets [from, count) of the batch one datagram per message.
void SendPlain(Pump* p, int from, int count) {
  int m = 0;
  for (int i = from; i < count; i++) {
    uint32_t addr = p->txAddr[i];
    if (addr == 0) continue;
    struct msghdr& h = p->txMsgs[m].msg_hdr;
    p->txIov[m].iov_base = p->tunRx + static_cast<size_t>(i) * p->slot;
    p->txIov[m].iov_len = static_cast<size_t>(p->tunRxLen[i]);
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    p->txNames[m].sin_addr.s_addr = htonl(addr);
    p->txNames[m].sin_port = p->portBE;
    m++;
  }
  int sent = 0;
  while (sent < m) {
    int r = sendmmsg(p->udpFd, p->txMsgs.data() + sent, static_cast<unsigned>(m - sent), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      // The first message failed (full buffer, unreachable peer, ...): drop it, send the rest.
      p->counters[kUdpSendDropped] += 1;
      sent += 1;
      continue;
    }
    p->counters[kUdpSentPackets] += r;
    sent += r;
  }
}

// UDP GSO (UDP_SEGMENT): a run of packets to one peer, all of one length but the last, goes down
// the stack as one buffer and is cut into datagrams at the device (or at the receiving socket
// across veth): one trip through IP, the bridge and the peer's stack instead of one per packet.
// On the wire they are the same datagrams as without it. Runs are copied into gsoBuf (contiguous).
constexpr int kMaxSegments = 64;
constexpr size_t kMaxGsoBytes = 65000;  // a UDP payload must stay below 65507 bytes

bool IsGsoRefusal(int e) { return e == EIO || e == EINVAL || e == ENOPROTOOPT || e == EOPNOTSUPP; }

void SendBatch(Pump* p, int count) {
  if (!p->gso) return SendPlain(p, 0, count);
  int m = 0;
  size_t used = 0;
  int i = 0;
  while (i < count) {
    uint32_t addr = p->txAddr[i];
    if (addr == 0) {
      i++;
      continue;
    }
    const size_t segLen = static_cast<size_t>(p->tunRxLen[i]);
    uint8_t* start = p->gsoBuf.data() + used;
    size_t bytes = 0;
    int segs = 0;
    const int first = i;
    while (i < count && segs < kMaxSegments) {
      if (p->txAddr[i] == 0) {
        i++;
        continue;
      }
      const size_t len = static_cast<size_t>(p->tunRxLen[i]);
      if (p->txAddr[i] != addr || len > segLen || bytes + len > kMaxGsoBytes) break;
      memcpy(start + bytes, p->tunRx + static_cast<size_t>(i) * p->slot, len);
      bytes += len;
      segs++;
      i++;
      if (len < segLen) break;  // a shorter one ends the run
    }
    used += bytes;
    struct msghdr& h = p->txMsgs[m].msg_hdr;
    p->txIov[m].iov_base = start;
    p->txIov[m].iov_len = bytes;
    p->txNames[m].sin_addr.s_addr = htonl(addr);
    p->txNames[m].sin_port = p->portBE;
    if (segs > 1) {
      char* ctl = p->txCtl.data() + static_cast<size_t>(m) * CMSG_SPACE(sizeof(uint16_t));
      h.msg_control = ctl;
      h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      struct cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = static_cast<uint16_t>(segLen);
      memcpy(CMSG_DATA(c), &size, sizeof(size));
    } else {
      h.msg_control = nullptr;
      h.msg_controllen = 0;
    }
    p->txSegs[m] = segs;
    p->txFirst[m] = first;
    m++;
  }
  int sent = 0;
  while (sent < m) {
    int r = sendmmsg(p->udpFd, p->txMsgs.data() + sent, static_cast<unsigned>(m - sent), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (p->txSegs[sent] > 1 && IsGsoRefusal(errno)) {
        // This path cannot segment (no checksum offload, IPsec...): plain datagrams from here on.
        p->gso = false;
        return SendPlain(p, p->txFirst[sent], count);
      }
      p->counters[kUdpSendDropped] += p->txSegs[sent];
      sent += 1;
      continue;
    }
    for (int k = sent; k < sent + r; k++) p->counters[kUdpSentPackets] += p->txSegs[k];
    sent += r;
  }
}

void OnTunReadable(Pump* p) {
  for (int round = 0; round < kRoundsPerWakeup && !p->stopped; round++) {
    int n = ReadTunBatch(p);
    if (n == 0) return;
    if (!CallJs(p, p->onTun, n)) return;
    SendBatch(p, n);
    if (n < p->batch) return;
  }
}

void OnUdpReadable(Pump* p) {
  for (int round = 0; round < kRoundsPerWakeup && !p->stopped; round++) {
    for (int i = 0; i < p->batch; i++) {
      p->rxMsgs[i].msg_hdr.msg_flags = 0;
      p->rxMsgs[i].msg_len = 0;
    }
    int n = recvmmsg(p->udpFd, p->rxMsgs.data(), static_cast<unsigned>(p->batch), MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) p->counters[kUdpRecvErrors] += 1;
      return;
    }
    if (n == 0) return;
    p->counters[kUdpRecvPackets] += n;
    for (int i = 0; i < n; i++) {
      bool truncated = (p->rxMsgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      if (truncated) p->counters[kUdpRecvTruncated] += 1;
      p->udpRxLen[i] = truncated ? 0 : static_cast<int32_t>(p->rxMsgs[i].msg_len);
    }
    if (!CallJs(p, p->onUdp, n)) return;
    for (int i = 0; i < n; i++) {
      int32_t len = p->udpRxLen[i];
      if (len <= 0 || len > p->slot) continue;
      ssize_t w;
      do {
        w = write(p->tunFd, p->udpRx + static_cast<size_t>(i) * p->slot, static_cast<size_t>(len));
      } while (w < 0 && errno == EINTR);
      if (w == len) p->counters[kTunWrittenPackets] += 1;
      else p->counters[kTunWriteDropped] += 1;
    }
    if (n < p->batch) return;
  }
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  Pump* p = static_cast<Pump*>(handle->data);
  if (p->stopped) return;
  if (status < 0) {
    // EBADF and the like: the descriptor is gone; counted, and the pump keeps the other side.
    uv_poll_stop(handle);
    p->counters[handle == &p->tunPoll ? kTunReadErrors : kUdpRecvErrors] += 1;
    return;
  }
  if (!(events & UV_READABLE)) return;
  if (handle == &p->tunPoll) OnTunReadable(p);
  else OnUdpReadable(p);
}

void FinalizePump(napi_env, void* data, void*) {
  Pump* p = static_cast<Pump*>(data);
  StopPump(p);  // dropped without pumpStop: stop reading (the close callbacks free it)
  p->finalized = true;
  if (p->closed) delete p;
}

// pumpStart({tunFd, udpFd, port, slot, batch, tunRx, tunRxLen, txAddr, udpRx, udpRxLen, counters, onTun, onUdp}): handle
napi_value PumpStart(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 1) return ThrowType(env, "pumpStart(options): options missing");
  napi_value o = argv[0];
  int64_t tunFd, udpFd, port, slot, batch;
  if (!GetInt(env, GetProp(env, o, "tunFd"), &tunFd) || !GetInt(env, GetProp(env, o, "udpFd"), &udpFd) || !GetInt(env, GetProp(env, o, "port"), &port) ||
      !GetInt(env, GetProp(env, o, "slot"), &slot) || !GetInt(env, GetProp(env, o, "batch"), &batch)) {
    return ThrowType(env, "pumpStart: tunFd, udpFd, port, slot and batch must be numbers");
  }
  if (tunFd < 0 || udpFd < 0 || port < 1 || port > 65535 || slot < 64 || slot > 65536 || batch < 1 || batch > 1024) {
    return ThrowType(env, "pumpStart: tunFd/udpFd must be descriptors, port 1-65535, slot 64-65536, batch 1-1024");
  }
  Pump* p = new (std::nothrow) Pump();
  if (!p) return ThrowErrno(env, ENOMEM, "pumpStart", "");
  p->env = env;
  p->tunFd = static_cast<int>(tunFd);
  p->udpFd = static_cast<int>(udpFd);
  p->portBE = htons(static_cast<uint16_t>(port));
  p->slot = static_cast<int>(slot);
  p->batch = static_cast<int>(batch);
  size_t len;
  const size_t bufBytes = static_cast<size_t>(slot) * static_cast<size_t>(batch);
  const char* names[] = {"tunRx", "tunRxLen", "txAddr", "udpRx", "udpRxLen", "counters", "onTun", "onUdp"};
  bool ok = GetTyped(env, GetProp(env, o, "tunRx"), napi_uint8_array, &p->tunRx, &len) && len >= bufBytes &&
            GetTyped(env, GetProp(env, o, "tunRxLen"), napi_int32_array, &p->tunRxLen, &len) && len >= static_cast<size_t>(batch) &&
            GetTyped(env, GetProp(env, o, "txAddr"), napi_uint32_array, &p->txAddr, &len) && len >= static_cast<size_t>(batch) &&
            GetTyped(env, GetProp(env, o, "udpRx"), napi_uint8_array, &p->udpRx, &len) && len >= bufBytes &&
            GetTyped(env, GetProp(env, o, "udpRxLen"), napi_int32_array, &p->udpRxLen, &len) && len >= static_cast<size_t>(batch) &&
            GetTyped(env, GetProp(env, o, "counters"), napi_float64_array, &p->counters, &len) && len >= kCounterCount;
  napi_valuetype t1 = napi_undefined, t2 = napi_undefined;
  napi_typeof(env, GetProp(env, o, "onTun"), &t1);
  napi_typeof(env, GetProp(env, o, "onUdp"), &t2);
  if (!ok || t1 != napi_function || t2 != napi_function) {
    delete p;
    return ThrowType(env, "pumpStart: tunRx/udpRx must be Uint8Arrays of slot*batch bytes, tunRxLen/udpRxLen Int32Arrays and txAddr a Uint32Array of batch entries, counters a Float64Array, onTun/onUdp functions");
  }
  for (const char* name : names) napi_create_reference(env, GetProp(env, o, name), 1, &p->keep[p->keepCount++]);
  napi_create_reference(env, GetProp(env, o, "onTun"), 1, &p->onTun);
  napi_create_reference(env, GetProp(env, o, "onUdp"), 1, &p->onUdp);

  p->txMsgs.resize(p->batch);
  p->txIov.resize(p->batch);
  p->txNames.resize(p->batch);
  p->rxMsgs.resize(p->batch);
  p->rxIov.resize(p->batch);
  p->gsoBuf.resize(bufBytes);
  p->txCtl.resize(static_cast<size_t>(p->batch) * CMSG_SPACE(sizeof(uint16_t)));
  p->txSegs.resize(p->batch);
  p->txFirst.resize(p->batch);
  for (int i = 0; i < p->batch; i++) {
    memset(&p->txMsgs[i], 0, sizeof(struct mmsghdr));
    memset(&p->txNames[i], 0, sizeof(struct sockaddr_in));
    p->txNames[i].sin_family = AF_INET;
    p->txMsgs[i].msg_hdr.msg_name = &p->txNames[i];
    p->txMsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
    p->txMsgs[i].msg_hdr.msg_iov = &p->txIov[i];
    p->txMsgs[i].msg_hdr.msg_iovlen = 1;
    p->rxIov[i].iov_base = p->udpRx + static_cast<size_t>(i) * p->slot;
    p->rxIov[i].iov_len = static_cast<size_t>(p->slot);
    memset(&p->rxMsgs[i], 0, sizeof(struct mmsghdr));
    p->rxMsgs[i].msg_hdr.msg_iov = &p->rxIov[i];
    p->rxMsgs[i].msg_hdr.msg_iovlen = 1;
  }

  napi_value resource, name, handle;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "flannel:udp-pump", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &p->asyncContext);

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &p->tunPoll, p->tunFd) != 0) {
    ReleaseJs(p);
    delete p;
    return ThrowErrno(env, EBADF, "uv_poll_init", "TUN descriptor");
  }
  p->tunPoll.data = p;
  p->open = 1;
  if (uv_poll_init(loop, &p->udpPoll, p->udpFd) != 0) {
    // No JS handle will exist: the TUN poll's close callback frees the pump.
    p->stopped = true;
    p->finalized = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->tunPoll), OnClosed);
    return ThrowErrno(env, EBADF, "uv_poll_init", "UDP descriptor");
  }
  p->udpPoll.data = p;
  p->open = 2;
  uv_poll_start(&p->tunPoll, UV_READABLE, OnPoll);
  uv_poll_start(&p->udpPoll, UV_READABLE, OnPoll);

  NAPI_OK(napi_create_external(env, p, FinalizePump, nullptr, &handle));
  return handle;
}

// pumpStop(handle): stops reading; the descriptors stay open (the caller closes them).
napi_value PumpStop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* data = nullptr;
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    return ThrowType(env, "pumpStop(handle): not a pump handle");
  }
  Pump* p = static_cast<Pump*>(data);
  StopPump(p);
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"openTun", nullptr, OpenTun, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"openUdp", nullptr, OpenUdp, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"closeFd", nullptr, CloseFd, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"writeTun", nullptr, WriteTun, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pumpStart", nullptr, PumpStart, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pumpStop", nullptr, PumpStop, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value count;
  napi_create_int32(env, kCounterCount, &count);
  napi_set_named_property(env, exports, "counterCount", count);
  return exports;
}
