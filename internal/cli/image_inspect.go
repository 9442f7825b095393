package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/model"
	"github.com/spf13/cobra"
)

func (a *app) imageInspectCmd() *cobra.Command {
	return inspectCmd(a, "Show an image's details", (*client.Client).InspectImage, writeImageText)
}

func writeImageText(a *app, img model.Image) error {
	f := newFields(a)
	f.add("name", img.Name)
	f.add("id", img.ID)
	f.add("ref", img.Ref)
	f.add("digest", img.Digest)
	f.add("platform", img.Platform)
	f.add("rootfs", img.RootfsPath)
	f.add("size", fmt.Sprintf("%s (%d bytes)", humanSize(img.SizeBytes), img.SizeBytes))
	f.add("managed", fmt.Sprint(img.Managed))
	f.add("kernel", orDash(img.Kernel))
	f.add("parent", img.Parent)
	f.add("entrypoint", strings.Join(img.Config.Entrypoint, " "))
	f.add("cmd", strings.Join(img.Config.Cmd, " "))
	f.add("workdir", img.Config.WorkingDir)
	f.add("user", img.Config.User)
	for _, e := range img.Config.Env {
		f.add("env", e)
	}
	f.add("created", img.Created.Local().Format(time.RFC3339))
	return f.flush()
}
