{
  "targets": [
    {
      "target_name": "flannel_tun",
      "sources": ["src/tun.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
