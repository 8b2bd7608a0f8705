//go:build !linux

package command

import "syscall"

// procAttr starts a child in a process group of its own unless it is
// interactive. Only Linux has a parent-death signal; elsewhere a child
// outlives a sysinit killed without warning (the run lock, which children
// inherit, keeps the next refresh from starting beside it).
func procAttr(interactive bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: !interactive}
}
