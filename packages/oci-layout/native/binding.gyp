{
  "targets": [
    {
      "target_name": "fsnative",
      "sources": ["fsnative.c", "smallFiles.c", "mounts.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
