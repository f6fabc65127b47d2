package main

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestZZDebug(t *testing.T) {
	synthDefault(t)
	t.Log("env:", os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"))
	out, _ := exec.Command("sh", "-c", "for p in $(pgrep -f jsii-runtime); do tr '\\0' '\\n' < /proc/$p/environ | grep JSII; done").CombinedOutput()
	t.Log(string(out))
}
func itoa(i int) string { return strconv.Itoa(i) }
