{
  "targets": [
    {
      "target_name": "fsnative",
      "sources": ["fsnative.c", "smallFiles.c", "contentHashes.c", "smallFileWrites.c", "mounts.c", "attachSocket.c", "processRun.c", "daemonSpawn.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
