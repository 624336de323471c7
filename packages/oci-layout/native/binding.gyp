{
  "targets": [
    {
      "target_name": "fsnative",
      "sources": ["fsnative.c", "smallFiles.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
