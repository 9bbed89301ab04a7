package cli

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
)

func testRoot(stdout, stderr *bytes.Buffer, ran *[]string) *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	var model string
	var strict bool
	run := &cobra.Command{
		Use:  "run FILE",
		Args: Args(1, 1, "FILE is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			*ran = append(*ran, args[0], model)
			switch args[0] {
			case "fail":
				return errors.New("it broke: fix it")
			case "exit3":
				return Exit(3)
			}
			return nil
		},
	}
	run.Flags().StringVar(&model, "model", "", "model")
	run.Flags().BoolVar(&strict, "strict", false, "strict")
	group := Group(&cobra.Command{Use: "group"})
	group.AddCommand(&cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(run, group)
	Prepare(root, stdout, stderr)
	return root
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		ran    []string
		stderr string
	}{
		{[]string{"run", "f", "--model", "m"}, 0, []string{"f", "m"}, ""},
		{[]string{"run", "-model", "m", "f"}, 0, []string{"f", "m"}, ""},
		{[]string{"run", "f", "-model=m", "-strict"}, 0, []string{"f", "m"}, ""},
		{[]string{"run", "--", "-model"}, 0, []string{"-model", ""}, ""},
		{[]string{"run"}, 2, nil, "tool run: FILE is missing"},
		{[]string{"run", "a", "b"}, 2, nil, "unexpected argument(s): b"},
		{[]string{"run", "a", "--nope"}, 2, nil, "unknown flag: --nope"},
		{[]string{"run", "fail"}, 1, []string{"fail", ""}, "tool: it broke: fix it"},
		{[]string{"run", "exit3"}, 3, []string{"exit3", ""}, ""},
		{[]string{"group"}, 2, nil, "name a command: leaf"},
		{[]string{"group", "twig"}, 2, nil, `unknown command "twig"`},
		{[]string{"group", "leaf"}, 0, nil, ""},
	} {
		var stdout, stderr bytes.Buffer
		var ran []string
		code := Run(testRoot(&stdout, &stderr, &ran), tc.args)
		assert.Equal(t, tc.code, code, "%q: exit code; stderr %s", tc.args, stderr.String())
		assert.Equal(t, tc.ran, ran, "%q: what ran", tc.args)
		assert.Contains(t, stderr.String(), tc.stderr, "%q: stderr", tc.args)
	}
}

func TestLongFlagsLeaveOtherArgumentsAlone(t *testing.T) {
	var stdout, stderr bytes.Buffer
	var ran []string
	root := testRoot(&stdout, &stderr, &ran)
	assert.Equal(t,
		[]string{"run", "--model", "-h", "-x", "-5", "-", "--strict", "--", "-model"},
		LongFlags(root, []string{"run", "-model", "-h", "-x", "-5", "-", "--strict", "--", "-model"}))
}
