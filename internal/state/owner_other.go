//go:build !darwin

package state

func platformMachineID() string { return "" }
