{
  "targets": [
    {
      "target_name": "dns_fast",
      "sources": ["dns_fast.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
