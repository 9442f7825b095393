package cli

import (
	"strconv"

	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/model"
	"github.com/spf13/cobra"
)

func (a *app) imageListCmd() *cobra.Command {
	return listCmd(a, "List images", (*client.Client).ListImages, imageTable)
}

var imageTable = table[model.Image]{
	header: []string{"NAME", "ID", "KERNEL", "SIZE", "MANAGED", "CREATED"},
	row: func(img model.Image) []string {
		return []string{img.Name, shortID(img.ID), orDash(img.Kernel), humanSize(img.SizeBytes),
			strconv.FormatBool(img.Managed), img.Created.Local().Format("2006-01-02 15:04")}
	},
}
