{
  "targets": [
    {
      "target_name": "fsnative",
      "sources": ["fsnative.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
