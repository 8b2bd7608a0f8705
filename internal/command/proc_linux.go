package command

import "syscall"

// procAttr starts a child in a process group of its own (unless it is
// interactive), with SIGTERM as its parent-death signal: if sysinit dies,
// even by SIGKILL, the kernel stops the program it started, as an interrupt
// would. (The kernel clears the signal when the child executes a set-user-ID
// program such as sudo; sudo, in turn, outlives sysinit only as long as the
// command it runs.)
func procAttr(interactive bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: !interactive, Pdeathsig: syscall.SIGTERM}
}
