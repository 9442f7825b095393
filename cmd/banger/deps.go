package main

import (
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/spf13/cobra"
	_ "modernc.org/sqlite"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/vbauerster/mpb/v8"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "github.com/ulikunitz/xz"
)

func main() {}
