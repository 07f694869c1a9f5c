// dockerfile-check: BuildKit's own Dockerfile checks (what `docker build --check` runs), offline.
// Usage: dockerfile-check <Dockerfile>; prints the lint results as JSON (warnings and a build error).
// Base images are not pulled: every FROM resolves to an empty linux/amd64 image config.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/opencontainers/go-digest"
)

type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	return ref, digest.FromBytes(config), config, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-check <Dockerfile>")
		os.Exit(64)
	}
	dt, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(66)
	}
	// The source map carries a definition, as the Dockerfile frontend's own has.
	source := llb.Scratch()
	sourceMap := llb.NewSourceMap(&source, os.Args[1], "Dockerfile", dt)
	if sourceMap.Definition, err = source.Marshal(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opt := dockerfile2llb.ConvertOpt{MetaResolver: offlineResolver{}, SourceMap: sourceMap}
	results, err := dockerfile2llb.DockerfileLint(context.Background(), dt, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := json.Marshal(results)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
