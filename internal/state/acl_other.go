//go:build !linux

package state

// aclWriters reads no ACL outside Linux. macOS keeps a directory's ACL
// where only libc's acl_get_file reads it (golang.org/x/sys/unix does not
// wrap it, and sysinit does not use cgo), so there root relies on the
// mode bits and ownership alone (docs/decisions.md says so).
func aclWriters(string) (string, error) { return "", nil }
